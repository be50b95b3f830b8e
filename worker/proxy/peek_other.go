//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package proxy

// peekFD cannot peek on this platform: every idle connection counts as
// alive, and a stale one surfaces as a reset on its next use.
func (c *conn) peekFD(uintptr) {
	c.peekAlive = true
}
