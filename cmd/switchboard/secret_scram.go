package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"

	"github.com/switchboard/switchboard/auth"
)

// secretScram derives a wamp-scram principal's stored keys from a password
// read from stdin and prints them as the YAML of config.yaml: the keys of a
// principal, or a whole principal (a list item) with -authid.
func secretScram(args []string, stdout, stderr io.Writer) int {
	flags := newFlags("secret scram")
	kdf := flags.String("kdf", auth.KDFArgon2id, "key derivation function: argon2id13 (the specification's), argon2id-13 (Autobahn|Python's AuthScram, Crossbar.io) or pbkdf2")
	iterations := flags.Int("iterations", 0, "argon2id time cost or PBKDF2 iterations (default 3 for argon2id13, 16384 for pbkdf2)")
	memory := flags.Int("memory", auth.DefaultScramArgonMemory, "argon2id memory in KiB")
	salt := flags.String("salt", "", "salt in base64 (default 16 random bytes; give one only to reproduce keys)")
	authid := flags.String("authid", "", "print a whole principal with this authid")
	role := flags.String("role", "", "the principal's role, with -authid")
	if err := flags.Parse(args); err != nil || flags.NArg() > 0 {
		if err == nil {
			err = fmt.Errorf("unexpected argument %q", flags.Arg(0))
		}
		fmt.Fprintf(stderr, "switchboard secret scram: %v\n\n%s", err, secretUsage)
		return 2
	}
	k := *kdf
	if *iterations == 0 {
		*iterations = auth.DefaultScramArgonIterations
		if k == auth.KDFPBKDF2 {
			*iterations = auth.DefaultScramPBKDF2Iterations
		}
	}
	var rawSalt []byte
	if *salt == "" {
		rawSalt = make([]byte, auth.DefaultScramSaltLen)
		_, _ = rand.Read(rawSalt)
	} else {
		var err error
		if rawSalt, err = base64.StdEncoding.Strict().DecodeString(*salt); err != nil {
			fmt.Fprintln(stderr, "switchboard secret scram: -salt is not base64")
			return 2
		}
	}
	if (*authid == "") != (*role == "") {
		fmt.Fprintln(stderr, "switchboard secret scram: give -authid and -role together")
		return 2
	}
	// Check the parameters before asking for the password.
	if _, err := auth.DeriveScramKeys("", k, rawSalt, *iterations, *memory); err != nil {
		fmt.Fprintln(stderr, "switchboard secret scram:", err)
		return 2
	}
	password, err := readSecret(stdin)
	if err != nil {
		fmt.Fprintln(stderr, "switchboard secret:", err)
		return 1
	}
	keys, err := auth.DeriveScramKeys(password, k, rawSalt, *iterations, *memory)
	if err != nil {
		fmt.Fprintln(stderr, "switchboard secret scram:", err)
		return 1
	}
	indent := ""
	if *authid != "" {
		fmt.Fprintf(stdout, "- authid: %s\n  role: %s\n", strconv.Quote(*authid), strconv.Quote(*role))
		indent = "  "
	}
	fmt.Fprintf(stdout, "%skdf: %s\n%siterations: %d\n", indent, keys.KDF, indent, keys.Iterations)
	if auth.KDFHasMemory(keys.KDF) {
		fmt.Fprintf(stdout, "%smemory: %d\n", indent, keys.Memory)
	}
	b64 := base64.StdEncoding.EncodeToString
	fmt.Fprintf(stdout, "%ssalt: %s\n%sstored_key: %s\n%sserver_key: %s\n",
		indent, b64(keys.Salt), indent, b64(keys.StoredKey), indent, b64(keys.ServerKey))
	return 0
}
