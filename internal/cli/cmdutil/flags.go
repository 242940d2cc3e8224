package cmdutil

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/vtsoar/vtsoar/internal/command"
)

// AddOptionFlags registers a flag on fs for each option of fields (each member of an
// option written as one JSON object is a flag of its own), bound to the option's
// value, whose value when the flag is added is the flag's default (a CLI-only text's
// CLIDefault when it has one).
func AddOptionFlags(fs *pflag.FlagSet, fields []command.Field) {
	for _, f := range fields {
		if f.Members != nil {
			AddOptionFlags(fs, f.Members)
			continue
		}
		switch v := f.Value.(type) {
		case *string:
			def := *v
			if f.CLIDefault != "" {
				def = f.CLIDefault
			}
			fs.StringVarP(v, f.Name, f.Short, def, f.Usage)
		case *bool:
			fs.BoolVarP(v, f.Name, f.Short, *v, f.Usage)
		case *int:
			fs.IntVarP(v, f.Name, f.Short, *v, f.Usage)
		case *int64:
			fs.Int64VarP(v, f.Name, f.Short, *v, f.Usage)
		case *time.Duration:
			fs.DurationVarP(v, f.Name, f.Short, *v, f.Usage)
		default:
			panic("cmdutil: option " + f.Name + " has a value of no flag type")
		}
	}
}
