package main

import (
	"github.com/spf13/cobra"
)

func newModelsCommand(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List, download and import models",
		Long: `Manage the model cache: the folder where official UpscalerJS model packages
are kept once downloaded. It is $UPSCALER_CACHE if set, else "upscaler/models"
under the user cache folder. The default model is built in and needs no
download.`,
		// Without a subcommand the help is printed. Any other word is an
		// unknown command, which cobra reports only at the root.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return &statusError{exitUsage, usagef("unknown command %q for \"upscaler models\": use list, pull or import", args[0])}
		},
	}
	cmd.AddCommand(
		newModelsListCommand(s),
		newModelsPullCommand(s),
		newModelsImportCommand(s),
	)
	return cmd
}
