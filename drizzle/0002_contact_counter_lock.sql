-- The recount locked the contact FOR UPDATE, which conflicts with the KEY SHARE lock that every
-- concurrent opportunity_contacts insert takes on the same contact for its foreign key: two inserts
-- for one contact deadlocked. FOR NO KEY UPDATE still serialises the recounts (it conflicts with
-- itself) but not with foreign-key checks.
CREATE OR REPLACE FUNCTION recount_contact_opportunities(target uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  -- Lock first, count second: the count statement then takes its snapshot after any concurrent
  -- transaction that touched this contact has committed, so two writers cannot both miss each other.
  PERFORM 1 FROM contacts WHERE id = target FOR NO KEY UPDATE;
  UPDATE contacts
     SET opportunity_count = (
       SELECT count(*)
         FROM opportunity_contacts oc
         JOIN opportunities o ON o.id = oc.opportunity_id
        WHERE oc.contact_id = target AND o.deleted_at IS NULL)
   WHERE id = target;
END;
$$;
