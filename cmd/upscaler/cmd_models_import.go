package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/upscaler-go/upscaler/models"
)

func newModelsImportCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE.tgz",
		Short: "Add a downloaded model package to the model cache",
		Long: `Unpack an npm package tarball of an official model, as "npm pack
@upscalerjs/esrgan-slim" writes it, into the model cache, for machines that
cannot reach a registry.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("models import takes one FILE.tgz, got %d arguments", len(args))
			}
			return nil
		},
		RunE: runE(func(ctx context.Context, args []string) error {
			return runModelsImport(ctx, args, s)
		}),
	}
}

func runModelsImport(_ context.Context, args []string, s *streams) error {
	pkg, version, dir, err := newModelCache("").importPackage(args[0])
	if err != nil {
		return err // it names the file
	}
	var names []string
	for _, f := range models.Families() {
		if f.Package == pkg && f.Version == version {
			names = append(names, f.Name)
		}
	}
	if len(names) == 0 {
		fmt.Fprintf(s.out, "imported %s@%s into %s; it is not an official model of this version, so use it with -m %s\n", pkg, version, dir, dir)
		return nil
	}
	fmt.Fprintf(s.out, "imported %s@%s into %s: use it with -m %s\n", pkg, version, dir, strings.Join(names, ", -m "))
	return nil
}
