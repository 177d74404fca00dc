package config

import (
	"errors"
	"strings"

	"github.com/switchboard/switchboard/auth"
)

// The wamp-scram part of the schema. A principal stores what the router
// needs of a password and never the password itself:
//
//	- method: wamp-scram
//	  principals:
//	    - authid: alice
//	      role: frontend
//	      kdf: argon2id13          # argon2id-13 (Autobahn|Python's, Crossbar.io's) or pbkdf2
//	      iterations: 3
//	      memory: 65536            # KiB; argon2id13 and argon2id-13 only
//	      salt: base64
//	      stored_key: base64       # 32 bytes
//	      server_key: base64       # 32 bytes
//
// `switchboard secret scram` derives the last three from a password. Which
// keys a wamp-scram principal needs and may have is checked in auth.go with
// the other methods' (validator.principals); scramPrincipal checks their
// values with auth.ParseScramKeys, so that the bounds live in one place.

// scramPrincipal checks the SCRAM keys of principal path pp, reporting the
// first problem at the field it concerns. Missing fields are reported by
// validator.principals already.
func (v *validator) scramPrincipal(pp string, p *Principal) {
	if p.KDF == "" || p.Salt == "" || p.Iterations == 0 || p.StoredKey == "" || p.ServerKey == "" {
		return
	}
	if auth.KDFHasMemory(p.KDF) && p.Memory == 0 {
		v.failf(pp+".memory", ErrMissing, "missing memory: %s principals need one (KiB)", p.KDF)
		return
	}
	_, err := auth.ParseScramKeys(p.KDF, p.Salt, p.Iterations, p.Memory, p.StoredKey, p.ServerKey)
	var ke *auth.ScramKeyError
	if errors.As(err, &ke) {
		sentinel := ErrSecret
		switch ke.Field {
		case "kdf":
			sentinel = ErrAuth
		case "iterations", "memory":
			sentinel = ErrBadNumber
		}
		msg := strings.TrimPrefix(err.Error(), auth.ErrBadSecret.Error()+": ")
		if ke.Field == "memory" && p.Memory != 0 && p.KDF == auth.KDFPBKDF2 {
			sentinel, msg = ErrNotAllowed, "memory is for the argon2id kdfs only, not pbkdf2"
		}
		v.failf(pp+"."+ke.Field, sentinel, "%s", msg)
	}
}
