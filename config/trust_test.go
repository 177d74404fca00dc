package config

import (
	"reflect"
	"strings"
	"testing"
)

// A role with a trust level: {permissions: [...], trust_level: N}; the
// list form stays a role without one.
func TestRoleTrustLevel(t *testing.T) {
	src := `realms:
  - name: realm1
    roles:
      plain:
        - {uri: app., match: prefix, allow: [call]}
      trusted:
        trust_level: 3
        permissions:
          - {uri: app., match: prefix, allow: [call, publish]}
      lowest:
        trust_level: 0
`
	c, err := Parse("trust.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Realms[0]
	if got, want := r.TrustLevels(), map[string]int64{"trusted": 3, "lowest": 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("TrustLevels() = %v, want %v", got, want)
	}
	for _, role := range r.Roles {
		if role.Name == "trusted" && (len(role.Permissions) != 1 || len(role.Permissions[0].Allow) != 2) {
			t.Errorf("trusted permissions %+v", role.Permissions)
		}
		if role.Name == "lowest" && len(role.Permissions) != 0 {
			t.Errorf("lowest permissions %+v, want none", role.Permissions)
		}
	}
	if c.Realms[0].Roles[0].HasTrustLevel {
		t.Error("a role given as a list has a trust level")
	}

	realm := "realms:\n  - name: realm1\n"
	for _, tc := range []struct{ name, src, want string }{
		{"negative", realm + "    roles:\n      r:\n        trust_level: -1\n", "realms[0].roles.r.trust_level"},
		{"not a number", realm + "    roles:\n      r:\n        trust_level: high\n", "realms[0].roles.r.trust_level"},
		{"unknown key", realm + "    roles:\n      r:\n        trustlevel: 2\n", `unknown key "trustlevel" (did you mean "trust_level"?)`},
		{"bad permission", realm + "    roles:\n      r:\n        trust_level: 1\n        permissions:\n          - {uri: x}\n", "bad.yaml:7:13: realms[0].roles.r[0].allow: missing allow"},
	} {
		if _, err := Parse("bad.yaml", []byte(tc.src)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %s", tc.name, err, tc.want)
		}
	}
}
