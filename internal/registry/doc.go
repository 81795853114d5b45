// Package registry downloads npm packages, such as the official UpscalerJS
// model packages, from an npm registry into the local model cache, where
// models.Definition.Load finds them.
//
// # Registry and network
//
// The registry is https://registry.npmjs.org/ unless Client.Registry or the
// NPM_CONFIG_REGISTRY environment variable (as npm reads it, also spelled
// npm_config_registry) names another. Proxies come from HTTPS_PROXY,
// HTTP_PROXY and NO_PROXY. Pull requests the package's abbreviated metadata
// (application/vnd.npm.install-v1+json) at <registry>/<name>, with the "/"
// of a scoped name escaped as %2f, and accepts the full document too. The
// version's dist.tarball is downloaded and checked against dist.integrity,
// a Subresource Integrity string ("sha512-<base64>"). Only when a version
// publishes no integrity string is the older dist.shasum, a SHA-1 in hex,
// used instead. A tarball with neither is rejected. Registries that need
// authentication are not supported.
//
// # Cache layout
//
// The cache folder, models.CacheDir() by default, contains one folder per
// package version, named as models.CachePath names it:
// "@upscalerjs/esrgan-slim" 1.0.0 is in "upscalerjs-esrgan-slim@1.0.0",
// with package.json at its top. Only package.json, LICENSE*, LICENCE*,
// README* and the folders models/ and assets/ are kept. The assets are a
// fixture image and sample outputs, under 2 MB per package, and are kept
// for checking a model against its published results. The compiled
// JavaScript under dist/ is dropped.
//
// A package is downloaded to a temporary file and unpacked into a temporary
// folder, both in the cache folder and named with the prefix ".partial-".
// Only after the digest matches and the package unpacks cleanly is the
// folder renamed to its final name. So the final folder either contains the
// whole package or does not exist. Pulls of the same package may race,
// between goroutines or processes. Each one downloads and unpacks its own
// copy, the first rename wins, and the others discard their copy and return
// the winner's folder. A pull that crashes leaves only ".partial-" entries,
// which every later Pull or Import removes once they are an hour old.
//
// # Checks on the tarball
//
// A matching digest shows only that the tarball is the one the registry
// published, so its content is still checked as untrusted input. Each entry
// must be a regular file or folder, and symbolic and hard links are
// rejected. Its name, with backslashes read as slashes, must not be
// absolute or contain a ".." component. The first component, npm's
// "package/" folder, is stripped. An entry may be at most MaxFileBytes, all
// entries together at most MaxUnpackedBytes, and there may be at most
// MaxEntries of them. A download may be at most MaxTarballBytes. Files are
// written below the temporary folder through an os.Root, so no path can
// leave it, and get mode 0644 whatever the tarball says. The package.json
// in the tarball must name the requested package and version. For Import,
// it must name an official model package at the version models.Families
// lists.
package registry
