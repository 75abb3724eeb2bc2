package notices

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"syscall"
	"time"
)

// A webhook's address is given by a unit's user, and the server posts to
// it from inside the city's network: left open, that lets a user reach
// what only the server should (its database on loopback, the cloud's
// metadata service on a link-local address). Deliveries therefore refuse
// loopback, link-local, unspecified and multicast addresses unless the
// configuration allows them; private networks are allowed, because a
// city's own systems live there. The check is made on the address dialled,
// after name resolution, so a name that resolves to a refused address is
// refused too.

// refusedAddr says whether a is refused by default.
func refusedAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsUnspecified() ||
		a.IsMulticast() || a.IsInterfaceLocalMulticast()
}

// allowed says whether deliveries may reach a.
func (c Config) allowed(a netip.Addr) error {
	a = a.Unmap()
	if !refusedAddr(a) || slices.ContainsFunc(c.Allow, func(p netip.Prefix) bool { return p.Contains(a) }) {
		return nil
	}
	return fmt.Errorf("%s is a loopback, link-local, multicast or unspecified address, which webhooks do not reach "+
		"unless the server's configuration allows it (CITYGRID_WEBHOOK_ALLOW)", a)
}

// httpClient is the deliveries' client: its dialler refuses what allowed
// refuses.
func (c Config) httpClient() *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			return c.allowed(ap.Addr())
		}}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Timeout: c.Timeout, Transport: t}
}
