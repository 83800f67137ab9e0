// composeload resolves a Compose project with compose-go, the library that
// `docker compose` itself uses, and prints the resolved project as JSON.
//
// It loads the files the way `docker compose config` does, without a Docker
// engine: the .env file next to the first file (or --env-file), interpolation
// with `${VAR:-default}` and `${VAR:?error}`, the Compose Specification's JSON
// Schema, normalisation, path resolution and the consistency checks (unknown
// services in depends_on, undeclared volumes and networks, and so on).
//
//	composeload [-workdir DIR] [-env-file FILE]... FILE [FILE...]
//
// Exit code 0 and the project as JSON on stdout; 1 and the error on stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	var envFiles stringList
	workdir := flag.String("workdir", "", "project directory (default: the first file's directory)")
	flag.Var(&envFiles, "env-file", "env file for interpolation (repeatable; default: .env in the project directory)")
	flag.Parse()
	if flag.NArg() == 0 {
		fail(fmt.Errorf("usage: composeload [-workdir DIR] [-env-file FILE]... FILE [FILE...]"))
	}
	opts := []cli.ProjectOptionsFn{
		cli.WithOsEnv,
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
	}
	if *workdir != "" {
		opts = append([]cli.ProjectOptionsFn{cli.WithWorkingDirectory(*workdir)}, opts...)
	}
	options, err := cli.NewProjectOptions(flag.Args(), opts...)
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
