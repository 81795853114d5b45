package main

import (
	"context"

	"github.com/upscaler-go/upscaler/internal/registry"
	"github.com/upscaler-go/upscaler/models"
)

// modelCache is the local model cache and the npm registry that fills it.
// It is the command's only use of package registry.
type modelCache struct{ client *registry.Client }

// newModelCache returns the cache at models.CacheDir, filled from
// registryURL. An empty URL means $NPM_CONFIG_REGISTRY, else the public npm
// registry.
func newModelCache(registryURL string) modelCache {
	return modelCache{&registry.Client{
		Registry: registryURL,
		CacheDir: models.CacheDir(),
	}}
}

// pull downloads pkg@version into the cache, verifying its integrity, and
// returns the unpacked package folder.
func (m modelCache) pull(ctx context.Context, pkg, version string, progress func(done, total int64)) (string, error) {
	return m.client.Pull(ctx, pkg, version, progress)
}

// importPackage unpacks a package tarball into the cache.
func (m modelCache) importPackage(tgz string) (pkg, version, dir string, err error) {
	return m.client.Import(tgz)
}

// cached reports whether pkg@version is in the cache.
func (m modelCache) cached(pkg, version string) bool {
	return m.client.Cached(pkg, version)
}

// dir returns the cache folder of pkg@version.
func (m modelCache) dir(pkg, version string) string {
	return m.client.Dir(pkg, version)
}
