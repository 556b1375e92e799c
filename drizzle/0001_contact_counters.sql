-- contacts.opportunity_count: the number of live (not deleted) opportunities a contact belongs to,
-- as primary or additional contact. Recomputed from the source rows rather than incremented, so it
-- cannot drift whatever order inserts, deletes, cascades and soft deletes arrive in.
CREATE FUNCTION recount_contact_opportunities(target uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  -- Lock first, count second: the count statement then takes its snapshot after any concurrent
  -- transaction that touched this contact has committed, so two writers cannot both miss each other.
  PERFORM 1 FROM contacts WHERE id = target FOR UPDATE;
  UPDATE contacts
     SET opportunity_count = (
       SELECT count(*)
         FROM opportunity_contacts oc
         JOIN opportunities o ON o.id = oc.opportunity_id
        WHERE oc.contact_id = target AND o.deleted_at IS NULL)
   WHERE id = target;
END;
$$;
--> statement-breakpoint
CREATE FUNCTION opportunity_contacts_recount() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    PERFORM recount_contact_opportunities(NEW.contact_id);
  END IF;
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    PERFORM recount_contact_opportunities(OLD.contact_id);
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER opportunity_contacts_recount
AFTER INSERT OR UPDATE OR DELETE ON opportunity_contacts
FOR EACH ROW EXECUTE FUNCTION opportunity_contacts_recount();
--> statement-breakpoint
CREATE FUNCTION opportunities_recount_contacts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM recount_contact_opportunities(oc.contact_id)
     FROM opportunity_contacts oc
    WHERE oc.opportunity_id = NEW.id;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- A soft delete or restore changes which opportunities count.
CREATE TRIGGER opportunities_recount_contacts
AFTER UPDATE OF deleted_at ON opportunities
FOR EACH ROW WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
EXECUTE FUNCTION opportunities_recount_contacts();
