// Command fluxgate is a high-performance API gateway.
//
//	fluxgate [run] [-c FILE] [--workers N]   supervisor: start the gateway
//	fluxgate check [-c FILE]                 validate the config (like nginx -t)
//	fluxgate version                         print the version
//
// A process started by the supervisor with FLUXGATE_WORKER=1 runs as a
// worker instead (see shared/ctl). Only main exits, once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fluxgate/fluxgate/config"
	"github.com/fluxgate/fluxgate/shared/buildinfo"
	"github.com/fluxgate/fluxgate/supervisor"
	"github.com/fluxgate/fluxgate/worker/proc"
	"github.com/fluxgate/fluxgate/worker/server"
)

// defaultConfigPath is used when neither -c nor GATEWAY_CONFIG_PATH is set.
const defaultConfigPath = "config/config.yaml"

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run dispatches to a mode and returns the exit code.
func run(args []string, getenv func(string) string, stdout, stderr *os.File) int {
	if proc.IsWorker(getenv) {
		return exitCode(stderr, proc.Run(getenv, stdout, stderr))
	}
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runSupervisor(args, getenv, stdout, stderr)
	case "check":
		return check(args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, buildinfo.String())
		return 0
	}
	fmt.Fprintf(stderr, "fluxgate: unknown command %q\nusage: fluxgate [run|check|version] [-c FILE] [--workers N]\n", cmd)
	return 2
}

// flags parses the common flags; workers is nil for commands without it.
func flags(name string, args []string, getenv func(string) string, stderr io.Writer, workers *int) (path string, ok bool) {
	fs := flag.NewFlagSet("fluxgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path = getenv("GATEWAY_CONFIG_PATH")
	if path == "" {
		path = defaultConfigPath
	}
	fs.StringVar(&path, "c", path, "config file (default $GATEWAY_CONFIG_PATH, else "+defaultConfigPath+")")
	if workers != nil {
		fs.IntVar(workers, "workers", 0, "worker processes; wins over server.workers (0 = from config)")
	}
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fluxgate %s: unexpected arguments %q\n", name, fs.Args())
		return "", false
	}
	return path, true
}

// runSupervisor starts the gateway and blocks until it stops.
func runSupervisor(args []string, getenv func(string) string, stdout, stderr *os.File) int {
	var workers int
	path, ok := flags("run", args, getenv, stderr, &workers)
	if !ok {
		return 2
	}
	err := supervisor.Run(context.Background(), supervisor.Options{
		ConfigPath: path,
		Workers:    workers,
		Args:       args,
		Getenv:     getenv,
		Stdout:     stdout,
		Stderr:     stderr,
	})
	return exitCode(stderr, err)
}

// check validates the config with the same code a worker builds it with,
// binding nothing.
func check(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	path, ok := flags("check", args, getenv, stderr, nil)
	if !ok {
		return 2
	}
	cfg, err := config.Load(path, getenv)
	if err != nil {
		return exitCode(stderr, err)
	}
	srv, err := server.New(server.Options{Config: cfg})
	if err != nil {
		return exitCode(stderr, err)
	}
	if err := srv.Close(); err != nil {
		return exitCode(stderr, err)
	}
	fmt.Fprintln(stdout, "configuration OK")
	return 0
}

// exitCode prints err (every line of a config error) and maps it to an exit
// code.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(stderr, e.Error())
		}
		return 1
	}
	fmt.Fprintln(stderr, err.Error())
	return 1
}
