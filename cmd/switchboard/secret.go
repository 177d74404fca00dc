package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/switchboard/switchboard/auth"
)

// stdin is where secret reads the secret; tests replace it.
var stdin io.Reader = os.Stdin

const secretUsage = `Usage:

	switchboard secret bcrypt               hash a ticket for {bcrypt: ...}
	switchboard secret argon2id             hash a ticket for {argon2id: ...}
	switchboard secret wampcra -salt SALT [-iterations N] [-keylen N]
	                                        derive a salted wampcra secret
	switchboard secret cryptosign           make an Ed25519 key pair
	switchboard secret scram [-kdf argon2id13|argon2id-13|pbkdf2] [-iterations N]
	        [-memory KiB] [-salt BASE64] [-authid ID -role ROLE]
	                                        derive wamp-scram stored keys

The ticket or password is read from the first line of standard input
(type it, or pipe it in), so that it stays out of the shell history and
the process list.

cryptosign prints the private key seed (for the client; keep it secret) and
then the public key (for pubkeys in config.yaml), both in hex.

scram prints the YAML of a wamp-scram principal (kdf, iterations, memory,
salt, stored_key, server_key; with -authid, the whole list item). The salt
is random unless given; defaults: argon2id13 with 3 passes over 64 MiB,
or pbkdf2 with 16384 iterations. Clients run the same KDF at every login.
Autobahn|Python's AuthScram (and Crossbar.io) need -kdf argon2id-13, whose
keys differ from argon2id13's for the same password.
`

// secretCmd prints what config.yaml takes instead of a secret in the
// clear: a ticket's hash, a wampcra derived key, a cryptosign key pair.
func secretCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, secretUsage)
		return 0
	}
	kind, args := args[0], args[1:]
	if kind == "scram" {
		return secretScram(args, stdout, stderr)
	}
	flags := newFlags("secret " + kind)
	var salt string
	var iterations, keyLen int
	if kind == "wampcra" {
		flags.StringVar(&salt, "salt", "", "PBKDF2 salt")
		flags.IntVar(&iterations, "iterations", auth.DefaultIterations, "PBKDF2 iterations")
		flags.IntVar(&keyLen, "keylen", auth.DefaultKeyLen, "derived key length in bytes")
	}
	if err := flags.Parse(args); err != nil || flags.NArg() > 0 {
		if err == nil {
			err = fmt.Errorf("unexpected argument %q", flags.Arg(0))
		}
		fmt.Fprintf(stderr, "switchboard secret %s: %v\n\n%s", kind, err, secretUsage)
		return 2
	}
	switch kind {
	case "cryptosign":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			fmt.Fprintln(stderr, "switchboard secret:", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n%s\n", hex.EncodeToString(priv.Seed()), hex.EncodeToString(pub))
		return 0
	case "bcrypt", "argon2id", "wampcra":
	default:
		fmt.Fprintf(stderr, "switchboard secret: unknown kind %q\n\n%s", kind, secretUsage)
		return 2
	}
	if kind == "wampcra" && (salt == "" || iterations <= 0 || keyLen <= 0 || keyLen > 1024) {
		fmt.Fprintf(stderr, "switchboard secret wampcra: give -salt, and positive -iterations and -keylen (at most 1024)\n")
		return 2
	}
	secret, err := readSecret(stdin)
	if err != nil {
		fmt.Fprintln(stderr, "switchboard secret:", err)
		return 1
	}
	switch kind {
	case "bcrypt":
		h, err := auth.HashBcrypt(secret)
		if err != nil {
			fmt.Fprintln(stderr, "switchboard secret:", err)
			return 1
		}
		fmt.Fprintln(stdout, h)
	case "argon2id":
		fmt.Fprintln(stdout, auth.HashArgon2id(secret))
	case "wampcra":
		fmt.Fprintln(stdout, auth.DeriveCRAKey(secret, salt, iterations, keyLen))
	}
	return 0
}

// readSecret returns the first line of r, without its line ending.
func readSecret(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no secret on standard input")
	}
	return line, nil
}
