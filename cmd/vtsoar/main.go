// Command vtsoar is the VirusTotal v3 integration for security automation: a CLI, a
// service and an offline emulator in one binary.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vtsoar/vtsoar/internal/cli"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], iostreams.System())
	stop()
	os.Exit(code)
}
