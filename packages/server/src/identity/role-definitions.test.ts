import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ROLES } from './rbac.js';
import { roleDefinition } from './role-assignments.js';

// Every built-in role has an ARM role definition (a role added to ROLES without its permissions made
// the role definitions list a 500).
describe('built-in role definitions', () => {
  it('every role of ROLES has its definition, with permissions, at any scope', () => {
    for (const [name, role] of Object.entries(ROLES)) {
      const d = roleDefinition(name, '/subscriptions/s/resourceGroups/g');
      assert.equal(d.name, role.id);
      assert.equal(
        d.id,
        `/subscriptions/s/resourceGroups/g/providers/Microsoft.Authorization/roleDefinitions/${role.id}`,
      );
      assert.equal(d.properties.roleName, name);
      assert.ok(d.properties.permissions[0]!.actions.length > 0, `${name} has actions`);
      assert.equal(roleDefinition(name, '/').id, `/providers/Microsoft.Authorization/roleDefinitions/${role.id}`);
    }
  });
});
