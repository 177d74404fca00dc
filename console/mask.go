package console

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"unicode"
)

// Masked stands in for a secret in the config the page shows.
const Masked = "********"

// secretFields are the names (lower case) of the string fields whose
// values are secrets or stand for them, wherever they appear.
var secretFields = map[string]bool{
	"password": true, "token": true, "plain": true, "bcrypt": true, "argon2id": true,
	"storedkey": true, "serverkey": true, "salt": true,
}

var (
	stringerType  = reflect.TypeFor[fmt.Stringer]()
	tlsConfigType = reflect.TypeFor[*tls.Config]()
)

// Mask turns a config (any struct of exported fields) into maps, lists and
// scalars ready for JSON, with the secrets replaced by Masked: a ticket
// or password given in the clear or as a hash, NATS passwords and tokens,
// HTTP header values, the password of a URL. Where a secret comes from
// (an environment variable or a file) is shown, as it is no secret and
// is what an operator checks. Keys are the Go field names in snake_case.
func Mask(v any) any {
	return mask(reflect.ValueOf(v), "", 0)
}

// maxDepth guards against a cycle; a config has none, but Mask takes any.
const maxDepth = 32

func mask(v reflect.Value, name string, depth int) any {
	if !v.IsValid() || depth > maxDepth {
		return nil
	}
	if v.Type() == tlsConfigType {
		return nil // built from the files named beside it
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return mask(v.Elem(), name, depth+1)
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return nil
	}
	if v.Type().Name() == "Secret" && v.Kind() == reflect.Struct {
		return maskSecret(v)
	}
	if v.Type().Implements(stringerType) && v.Kind() != reflect.Struct || v.Kind() == reflect.Struct && v.Type().PkgPath() == "net/netip" {
		if v.CanInterface() {
			return v.Interface().(fmt.Stringer).String()
		}
	}
	lower := strings.ToLower(strings.ReplaceAll(name, "_", ""))
	switch v.Kind() {
	case reflect.Struct:
		var out fields
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			val := mask(v.Field(i), f.Name, depth+1)
			if val == nil {
				continue
			}
			out = append(out, field{snake(f.Name), val})
		}
		return out
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range v.Len() {
			out[i] = mask(v.Index(i), name, depth+1)
		}
		if lower == "headers" {
			for i, h := range out {
				if s, ok := h.(string); ok {
					if name, _, found := strings.Cut(s, ":"); found {
						out[i] = name + ": " + Masked
					}
				}
			}
		}
		return out
	case reflect.Map:
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			out[fmt.Sprint(it.Key().Interface())] = mask(it.Value(), name, depth+1)
		}
		return out
	case reflect.String:
		s := v.String()
		if s != "" && secretFields[lower] {
			return Masked
		}
		return redactURL(s)
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	}
	return fmt.Sprint(v.Interface())
}

// fields are a struct's, in its order, which is the order the config
// documents them in; a map would be encoded sorted.
type fields []field

type field struct {
	key string
	val any
}

// MarshalJSON encodes the fields as a JSON object, in order.
func (fs fields) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(f.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.val)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

// maskSecret shows a config.Secret by its kind, and by its source when
// that is an environment variable or a file.
func maskSecret(v reflect.Value) any {
	get := func(name string) string {
		f := v.FieldByName(name)
		if f.IsValid() && f.Kind() == reflect.String {
			return f.String()
		}
		return ""
	}
	switch {
	case get("Env") != "":
		return map[string]any{"env": get("Env")}
	case get("File") != "":
		return map[string]any{"file": get("File")}
	case get("Bcrypt") != "":
		return map[string]any{"bcrypt": Masked}
	case get("Argon2id") != "":
		return map[string]any{"argon2id": Masked}
	}
	return Masked
}

// redactURL hides the password of a URL such as nats://user:pw@host.
func redactURL(s string) string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Masked)
		return strings.Replace(u.String(), url.PathEscape(Masked), Masked, 1)
	}
	return s
}

// snake turns a Go field name into snake_case: MaxMessageSize becomes
// max_message_size, TLS tls, ClientCA client_ca.
func snake(name string) string {
	var b strings.Builder
	rs := []rune(name)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1])) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
