package api

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/citygrid/citygrid/grids"
)

// tokenCache keeps recently seen principals so that reads on the hot path
// (locate) do not cost a database round trip each. It is cleared whenever
// users or tokens change anywhere (change notifications), and entries
// expire anyway after ttl in case a notice is lost.
type tokenCache struct {
	ttl time.Duration
	mu  sync.RWMutex
	m   map[[32]byte]cachedPrincipal
}

type cachedPrincipal struct {
	p       grids.Principal
	expires time.Time
}

// maxCachedTokens bounds memory when many distinct tokens are in use.
const maxCachedTokens = 10000

func newTokenCache(ttl time.Duration) *tokenCache {
	return &tokenCache{ttl: ttl, m: map[[32]byte]cachedPrincipal{}}
}

func (t *tokenCache) get(secret string) (grids.Principal, bool) {
	k := sha256.Sum256([]byte(secret))
	t.mu.RLock()
	e, ok := t.m[k]
	t.mu.RUnlock()
	if !ok || time.Now().After(e.expires) {
		return grids.Principal{}, false
	}
	return e.p, true
}

func (t *tokenCache) put(secret string, p grids.Principal) {
	k := sha256.Sum256([]byte(secret))
	t.mu.Lock()
	if len(t.m) >= maxCachedTokens {
		clear(t.m)
	}
	t.m[k] = cachedPrincipal{p: p, expires: time.Now().Add(t.ttl)}
	t.mu.Unlock()
}

func (t *tokenCache) clear() {
	t.mu.Lock()
	clear(t.m)
	t.mu.Unlock()
}
