import { InvalidInput } from '../errors.js';

/** ARM name rules and ids. */
export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Resource group names: 1–90 of letters, digits, '_', '-', '.', '(' ,')', not ending in '.'. */
export function checkResourceGroupName(name: string): void {
  if (!/^[-\w._()]{1,90}$/u.test(name) || name.endsWith('.') || /[^\x20-\x7e]/.test(name)) {
    throw new InvalidInput(
      `resource group name '${name}' is invalid: use 1–90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'`,
      { code: 'INVALID_RESOURCE_GROUP_NAME', target: 'resourceGroupName' },
    );
  }
}

export function checkSubscriptionId(id: string): void {
  if (!GUID.test(id))
    throw new InvalidInput(`subscription id '${id}' is not a GUID`, {
      code: 'INVALID_SUBSCRIPTION_ID',
      target: 'subscriptionId',
    });
}

export const groupId = (sub: string, rg: string): string => `/subscriptions/${sub}/resourceGroups/${rg}`;

export function systemData(
  createdBy: string,
  createdByType: string,
  createdAt: number,
  modifiedBy = createdBy,
  modifiedAt = createdAt,
) {
  return {
    createdBy,
    createdByType,
    createdAt: new Date(createdAt).toISOString(),
    lastModifiedBy: modifiedBy,
    lastModifiedByType: createdByType,
    lastModifiedAt: new Date(modifiedAt).toISOString(),
  };
}
