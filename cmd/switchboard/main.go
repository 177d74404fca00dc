// Command switchboard runs a Switchboard WAMP router node.
//
//	switchboard [run] [-c config.yaml]   run the node
//	switchboard check [-c FILE | FILE]   validate a config file
//	switchboard status [-c FILE] [-url URL] [-json]   show a running node's status
//	switchboard version                  print the version
//	switchboard secret KIND              hash or make a credential for config.yaml
//	switchboard help                     print the usage
//
// The standard flag package, one FlagSet per subcommand, is enough for
// five subcommands and a few flags; a CLI library would outweigh the code it
// serves.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/router"
)

// shutdownTimeout bounds the drain after SIGINT or SIGTERM: long enough for
// sessions to receive GOODBYE and writers to flush, short enough for a
// supervisor (systemd's default stop timeout is 90 s) never to need SIGKILL.
const shutdownTimeout = 10 * time.Second

const defaultConfig = "config.yaml"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it takes the arguments after the
// program name and returns the exit status (0 ok, 1 failure, 2 usage), so
// that tests can drive every path but a running node.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runCmd(args, stdout, stderr)
	case "check":
		return checkCmd(args, stdout, stderr)
	case "version":
		return versionCmd(args, stdout, stderr)
	case "secret":
		return secretCmd(args, stdout, stderr)
	case "status":
		return statusCmd(args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "switchboard: unknown command %q\nRun 'switchboard help' for usage.\n", cmd)
	return 2
}

const usage = `Switchboard is a WAMP v2 router.

Usage:

	switchboard [run] [-c FILE]     run the node (the default command)
	switchboard check [-c FILE]     check a config file and exit
	switchboard status [-c FILE] [-url URL] [-json]
	                                show a running node's realms, sessions,
	                                subscriptions and registrations (GET /status)
	switchboard version             print the version and exit
	switchboard secret KIND         hash a ticket, derive a wampcra key or
	                                wamp-scram keys, make a cryptosign key
	                                pair (see 'switchboard secret help')
	switchboard help                print this help

Flags:

	-c, --config FILE   config file (default "config.yaml"); run starts the
	                    default node (ws://127.0.0.1:8080/ws, rawsocket
	                    127.0.0.1:8081, realm "realm1") when the default
	                    file does not exist

The node stops on SIGINT or SIGTERM: it stops accepting, says GOODBYE
(wamp.close.system_shutdown) to every session and waits up to 10s for
them to close; a second signal stops it at once. SIGHUP reloads the
realms' authentication, roles and authorizers from the config file
without dropping sessions (see docs/monitoring.md).
`

// newFlags returns a subcommand's FlagSet. Errors and help are printed by
// parse, not by the flag package, so that help goes to stdout and errors
// to stderr.
func newFlags(name string) *flag.FlagSet {
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	flags.Usage = func() {}
	return flags
}

// parse parses args into flags. ok is false when the caller should return
// code at once: 0 after -h, 2 after a bad flag or stray argument.
func parse(flags *flag.FlagSet, args []string, maxArgs int, stdout, stderr io.Writer) (code int, ok bool) {
	err := flags.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return 0, false
	}
	if err == nil && flags.NArg() > maxArgs {
		err = fmt.Errorf("unexpected argument %q", flags.Arg(maxArgs))
	}
	if err != nil {
		fmt.Fprintf(stderr, "switchboard %s: %v\nRun 'switchboard help' for usage.\n", flags.Name(), err)
		return 2, false
	}
	return 0, true
}

// configFlag registers -c and --config on flags. The flag package accepts
// one or two dashes for any name, so two names give both spellings.
func configFlag(flags *flag.FlagSet) *string {
	p := new(string)
	flags.StringVar(p, "c", defaultConfig, "config `FILE`")
	flags.StringVar(p, "config", defaultConfig, "config `FILE`")
	return p
}

func isSet(flags *flag.FlagSet, names ...string) bool {
	found := false
	flags.Visit(func(f *flag.Flag) {
		for _, n := range names {
			found = found || f.Name == n
		}
	})
	return found
}

func checkCmd(args []string, stdout, stderr io.Writer) int {
	flags := newFlags("check")
	file := configFlag(flags)
	if code, ok := parse(flags, args, 1, stdout, stderr); !ok {
		return code
	}
	// "switchboard check FILE" reads as naturally as -c FILE.
	if flags.NArg() == 1 {
		if isSet(flags, "c", "config") {
			fmt.Fprintf(stderr, "switchboard check: give the file either with -c or as an argument\n")
			return 2
		}
		*file = flags.Arg(0)
	}
	if _, err := config.Load(*file); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", *file)
	return 0
}

func runCmd(args []string, stdout, stderr io.Writer) int {
	flags := newFlags("run")
	file := configFlag(flags)
	if code, ok := parse(flags, args, 0, stdout, stderr); !ok {
		return code
	}
	cfg, err := config.Load(*file)
	defaulted := false
	if errors.Is(err, fs.ErrNotExist) && !isSet(flags, "c", "config") {
		// With no file at all the node is the same one config.yaml
		// describes, bound to localhost only, so starting it is safe.
		cfg, err, defaulted = config.Default(), nil, true
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	level := new(slog.LevelVar)
	level.Set(cfg.Log.Level)
	logger := newLevelLogger(cfg.Log, level, stderr)
	if defaulted {
		logger.Info("no config file; running the default node", "file", *file)
	} else {
		logger.Info("loaded config", "file", cfg.File)
	}
	return serve(cfg, logger, *file, level)
}

// newLogger builds the node's logger on w, which is stderr outside tests:
// stdout belongs to the commands that print results.
func newLogger(l config.Log, w io.Writer) *slog.Logger {
	return newLevelLogger(l, l.Level, w)
}

// newLevelLogger is newLogger with the level given apart, a *slog.LevelVar
// for a node, whose level a reload may change.
func newLevelLogger(l config.Log, level slog.Leveler, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == config.FormatJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the node until SIGINT or SIGTERM and returns the exit
// status; SIGHUP reloads file in between.
func serve(cfg *config.Config, logger *slog.Logger, file string, level *slog.LevelVar) int {
	r, err := router.New(cfg, router.Options{Logger: logger, LogLevel: level})
	if err != nil {
		logger.Error("cannot create router", "error", err)
		return 1
	}
	// Subscribe before Start so that a signal during start-up is not lost;
	// room for two, so that the second one is seen during the drain.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	defer signal.Stop(hups)
	if err := r.Start(); err != nil {
		logger.Error("cannot start router", "error", err)
		return 1
	}
	logger.Info("ready", "pid", os.Getpid())

	var sig os.Signal
	for sig == nil {
		select {
		case <-hups:
			reload(r, file, logger)
		case sig = <-sigs:
		}
	}
	logger.Info("shutting down", "signal", sig.String(), "timeout", shutdownTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Shutdown(ctx) }()
	select {
	case err := <-done:
		if errors.Is(err, context.DeadlineExceeded) {
			// Peers that did not answer GOODBYE in time were closed:
			// theirs is the fault, and the node stopped as asked.
			logger.Warn("drain timed out; remaining connections closed", "timeout", shutdownTimeout)
		} else if err != nil {
			logger.Error("shutdown incomplete", "error", err)
			return 1
		}
		logger.Info("stopped")
		return 0
	case sig := <-sigs:
		// The operator asked twice: exit now and let the kernel close the
		// connections rather than wait out the drain.
		logger.Warn("second signal; exiting at once", "signal", sig.String())
		return 1
	}
}

// reload applies the config file again to the running router; a file
// that does not load is logged with its file:line errors and the running
// config stays.
func reload(r *router.Router, file string, logger *slog.Logger) {
	logger.Info("reloading config", "file", file)
	if err := r.ReloadFile(); err != nil {
		logger.Error("reload refused; the running config stays", "error", err)
	}
}
