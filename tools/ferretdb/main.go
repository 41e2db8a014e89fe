// Command coffer-ferretdb runs FerretDB v1 (SQLite backend) embedded in one
// process so that Coffer can use a real MongoDB wire-protocol server on
// machines where no mongod binary can be had.
//
// FerretDB itself listens on a private loopback port; clients reach it through
// a small proxy (proxy.go) that runs write commands one at a time, restoring
// the single-document atomicity MongoDB guarantees.
//
// It prints one JSON line {"uri": "..."} on stdout once it listens, then
// serves until SIGINT/SIGTERM or until its standard input closes (so it never
// outlives the Node.js process that started it).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to listen on")
	dir := flag.String("dir", "", "directory for the SQLite databases (required)")
	watchStdin := flag.Bool("exit-on-stdin-close", true, "exit when standard input closes")
	logLevel := flag.String("log-level", "error", "debug, info, warn or error")
	flag.Parse()

	if err := run(*listen, *dir, *watchStdin, *logLevel); err != nil {
		fmt.Fprintln(os.Stderr, "coffer-ferretdb:", err)
		os.Exit(1)
	}
}

func run(listen, dir string, watchStdin bool, logLevel string) error {
	if dir == "" {
		return fmt.Errorf("-dir is required")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return err
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad -log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if watchStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}

	backend, err := url.Parse(f.MongoDBURI())
	if err != nil {
		return err
	}
	front, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	defer front.Close()
	go (&writeSerializer{}).serve(front, backend.Host)

	line, err := json.Marshal(map[string]string{"uri": "mongodb://" + front.Addr().String() + "/"})
	if err != nil {
		return err
	}
	fmt.Println(string(line))

	return f.Run(ctx)
}
