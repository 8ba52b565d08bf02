// Command walkie is the Walkie appservice: push-to-talk floor control for
// Matrix rooms. This package is the command line (flags, -e, -g, the
// version); the running service is internal/app. See walkie -h.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
