package client

import "github.com/switchboard/switchboard/wamp"

// decodeJSONFast decodes the JSON messages a load generator receives by
// the million, EVENT, RESULT and INVOCATION with empty details, five times
// cheaper than the general decoder: the generator must outrun the routers
// it measures. It accepts only the compact form routers write
// ([36,1,2,{},[...]]) and reports false for anything else, which the
// caller then hands to the general decoder, so it never rejects a valid
// message nor accepts one the codec would refuse as malformed in a way
// that matters to a benchmark.
func decodeJSONFast(b []byte, m *wamp.Message) bool {
	if len(b) < 8 || b[0] != '[' {
		return false
	}
	t, i, ok := jsonID(b, 1)
	if !ok {
		return false
	}
	var ids int
	switch wamp.Type(t) {
	case wamp.EVENT, wamp.INVOCATION:
		ids = 2
	case wamp.RESULT:
		ids = 1
	default:
		return false
	}
	var id [2]wamp.ID
	for k := range ids {
		if i >= len(b) || b[i] != ',' {
			return false
		}
		if id[k], i, ok = jsonID(b, i+1); !ok {
			return false
		}
	}
	if i+3 > len(b) || b[i] != ',' || b[i+1] != '{' || b[i+2] != '}' {
		return false
	}
	i += 3
	var args []byte
	if i < len(b) && b[i] == ',' {
		i++
		end := jsonSkipArray(b, i)
		if end < 0 {
			return false
		}
		args, i = b[i:end], end
	}
	if i != len(b)-1 || b[i] != ']' {
		return false // kwargs, or trailing bytes: the general decoder judges
	}
	*m = wamp.Message{Type: wamp.Type(t)}
	switch m.Type {
	case wamp.EVENT:
		m.ID, m.Publication = id[0], id[1]
	case wamp.RESULT:
		m.Request = id[0]
	case wamp.INVOCATION:
		m.Request, m.ID = id[0], id[1]
	}
	if args != nil {
		m.Args = wamp.Payload{Raw: args, Ser: wamp.JSON}
	}
	return true
}

// jsonID reads an unsigned integer of at most 16 digits (ids are at most
// 2^53) at b[i:].
func jsonID(b []byte, i int) (wamp.ID, int, bool) {
	var v uint64
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' && j-i < 16 {
		v = v*10 + uint64(b[j]-'0')
		j++
	}
	if j == i || j < len(b) && b[j] >= '0' && b[j] <= '9' || v > wamp.MaxID {
		return 0, i, false
	}
	return wamp.ID(v), j, true
}

// jsonSkipArray returns the end of the JSON array that starts at b[i], or
// -1. It tracks only nesting and strings; the array's contents are the
// payload, passed on as raw bytes.
func jsonSkipArray(b []byte, i int) int {
	if i >= len(b) || b[i] != '[' {
		return -1
	}
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			for j++; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					j++
				}
			}
		case '[', '{':
			depth++
		case ']', '}':
			if depth--; depth == 0 {
				return j + 1
			}
		}
	}
	return -1
}
