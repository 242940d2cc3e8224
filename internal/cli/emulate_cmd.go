package cli

import (
	"github.com/spf13/cobra"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/emulate"
)

func init() {
	extraCommands = append(extraCommands, func(*cmdutil.Factory) *cobra.Command { return emulate.NewCmd() })
}
