import type { WebhookSubscription } from './types.ts';

/** How a subscription is named in outcomes and by the CLI: `deal.creation`, `deal.propertyChange:amount`. */
export const subscriptionName = (s: Pick<WebhookSubscription, 'eventType'> & { propertyName?: string | undefined }) => `${s.eventType}${s.propertyName ? `:${s.propertyName}` : ''}`;
