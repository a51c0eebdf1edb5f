//go:build !linux

package benchutil

import "os/exec"

// dieWithParent has no portable equivalent off Linux: Stop still ends the
// process, but a benchmark killed outright leaves it running.
func dieWithParent(*exec.Cmd) {}
