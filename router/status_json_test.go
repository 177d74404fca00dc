package router_test

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/router"
)

// TestStatusJSONKeys: every field of GET /status, however deep, has a
// snake_case json tag, so that scripts read one spelling throughout; a
// field without a tag would go out as Go spells it (listeners once had
// Type, Addr and URL). Map keys are data (realm names, message types) and
// are not checked.
func TestStatusJSONKeys(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if !snake.MatchString(name) {
				t.Errorf("%s.%s (%s): json key %q, want snake_case", path, f.Name, typ, name)
			}
			walk(f.Type, path+"."+name)
		}
	}
	walk(reflect.TypeFor[router.Status](), "status")
	if !seen[reflect.TypeFor[router.Listener]()] {
		t.Error("the walk did not reach router.Listener")
	}
}
