package models

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/upscaler-go/upscaler/tfjs"
)

// Family is one official model in all its scales.
type Family struct {
	Name             string
	Package, Version string
	// Paths maps each scale to model.json's path inside the package.
	Paths        map[int]string
	Range        Range // both input and output range
	Architecture string
	// Description is what the model is good for.
	Description string
	Meta        map[string]string
}

// Scales returns the family's scales in increasing order.
func (f *Family) Scales() []int { return slices.Sorted(maps.Keys(f.Paths)) }

// scaleList returns the family's scales for a message, such as "2x, 3x,
// 4x or 8x".
func (f *Family) scaleList() string {
	var names []string
	for _, s := range f.Scales() {
		names = append(names, fmt.Sprintf("%dx", s))
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// DefaultScale returns the scale used when none is given: 2 if the family
// has it, otherwise its smallest.
func (f *Family) DefaultScale() int {
	if _, ok := f.Paths[2]; ok {
		return 2
	}
	return f.Scales()[0]
}

func (f *Family) definition(scale int) Definition {
	meta := maps.Clone(f.Meta)
	if meta == nil {
		meta = map[string]string{}
	}
	meta["architecture"] = f.Architecture
	return Definition{
		Name: f.Name, Scale: scale, Package: f.Package, Version: f.Version,
		Path: f.Paths[scale], InputRange: f.Range, OutputRange: f.Range, Meta: meta,
	}
}

func scalePaths(format string, scales ...int) map[int]string {
	m := map[int]string{}
	for _, s := range scales {
		m[s] = fmt.Sprintf(format, s, s)
	}
	return m
}

// The RDN models (slim, medium, legacy div2k and psnr-small) work on 0..255;
// the RRDN models (thick, legacy gans) on 0..1, as the packages define.
var official = []Family{
	{Name: "default-model", Package: "@upscalerjs/default-model", Version: "1.0.0",
		Paths: map[int]string{2: "models/model.json"}, Range: Byte, Architecture: "rdn",
		Description: "embedded; the esrgan-slim 2x network, fast, for photos",
		Meta:        map[string]string{"size": "slim", "dataset": "div2k"}},
	{Name: "esrgan-slim", Package: "@upscalerjs/esrgan-slim", Version: "1.0.0",
		Paths: scalePaths("models/x%[1]d/model.json", 2, 3, 4, 8), Range: Byte, Architecture: "rdn",
		Description: "fastest; good general photo upscaling",
		Meta:        map[string]string{"size": "slim", "dataset": "div2k"}},
	{Name: "esrgan-medium", Package: "@upscalerjs/esrgan-medium", Version: "1.0.0",
		Paths: scalePaths("models/x%[1]d/model.json", 2, 3, 4, 8), Range: Byte, Architecture: "rdn",
		Description: "sharper than slim at about three times the cost",
		Meta:        map[string]string{"size": "medium", "dataset": "div2k"}},
	{Name: "esrgan-thick", Package: "@upscalerjs/esrgan-thick", Version: "1.0.0",
		Paths: scalePaths("models/x%[1]d/model.json", 2, 3, 4, 8), Range: Unit, Architecture: "rrdn",
		Description: "best quality, slowest: for final renders",
		Meta:        map[string]string{"size": "thick", "dataset": "div2k"}},
	{Name: "esrgan-legacy/div2k", Package: "@upscalerjs/esrgan-legacy", Version: "1.0.0",
		Paths: scalePaths("models/div2k/x%[1]d/model.json", 2, 3, 4), Range: Byte, Architecture: "rdn",
		Description: "the original UpscalerJS models, uint8-quantized",
		Meta:        map[string]string{"dataset": "div2k"}},
	{Name: "esrgan-legacy/psnr-small", Package: "@upscalerjs/esrgan-legacy", Version: "1.0.0",
		Paths: map[int]string{2: "models/psnr-small/model.json"}, Range: Byte, Architecture: "rdn",
		Description: "legacy PSNR-trained 2x model, uint8-quantized",
		Meta:        map[string]string{"dataset": "div2k"}},
	{Name: "esrgan-legacy/gans", Package: "@upscalerjs/esrgan-legacy", Version: "1.0.0",
		Paths: map[int]string{4: "models/gans/model.json"}, Range: Unit, Architecture: "rrdn",
		Description: "legacy GAN-trained 4x model: crisp textures, uint8-quantized",
		Meta:        map[string]string{"dataset": "div2k"}},
	{Name: "pixel-upsampler", Package: "@upscalerjs/pixel-upsampler", Version: "1.0.0-beta.11",
		Paths: scalePaths("models/x%[1]d/x%[2]d.json", 2, 3, 4), Range: Byte, Architecture: "nearest",
		Description: "nearest-neighbour enlargement, no learning: pixel art and tests"},
}

// Families returns the official model families.
func Families() []Family {
	out := slices.Clone(official)
	for i := range out {
		out[i].Paths = maps.Clone(out[i].Paths)
		out[i].Meta = maps.Clone(out[i].Meta)
	}
	return out
}

// LookupFamily returns the family called name.
func LookupFamily(name string) (Family, error) {
	if i := slices.IndexFunc(official, func(f Family) bool { return f.Name == name }); i >= 0 {
		return Families()[i], nil
	}
	var names []string
	for _, f := range official {
		names = append(names, f.Name)
	}
	return Family{}, fmt.Errorf("models: unknown model %q (official models: %s)", name, strings.Join(names, ", "))
}

// Lookup returns the definition of an official model. name may carry the
// scale, as in "esrgan-thick:4x"; scale 0 means the one in the name, or else
// the family's default scale. The embedded default model is returned for
// "default-model".
func Lookup(name string, scale int) (Definition, error) {
	name, nameScale, err := ParseName(name)
	if err != nil {
		return Definition{}, err
	}
	if scale == 0 {
		scale = nameScale
	} else if nameScale != 0 && nameScale != scale {
		return Definition{}, fmt.Errorf("models: %q asks for %dx but the scale given is %d", name, nameScale, scale)
	}
	f, err := LookupFamily(name)
	if err != nil {
		return Definition{}, err
	}
	if scale == 0 {
		scale = f.DefaultScale()
	}
	if _, ok := f.Paths[scale]; !ok {
		return Definition{}, fmt.Errorf("models: %s has no %dx model; it comes in %s", name, scale, f.scaleList())
	}
	if f.Name == "default-model" {
		return Default(), nil
	}
	return f.definition(scale), nil
}

// ParseName splits "name:4x" (or "name:4") into the name and scale; a name
// without a scale gives scale 0.
func ParseName(s string) (name string, scale int, err error) {
	name, suffix, ok := strings.Cut(s, ":")
	if !ok {
		return s, 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSuffix(strings.ToLower(suffix), "x"))
	if err != nil || n < 1 {
		return "", 0, fmt.Errorf("models: scale %q in %q is not a number such as 4x", suffix, s)
	}
	return name, n, nil
}

// FromPackage returns the definition for the model at scale inside the npm
// package at path (a .tgz or folder). An official package is recognised
// from its package.json name and version and gets its official definition;
// scale 0 means the family's default. For esrgan-legacy, which holds
// several families, name picks one ("esrgan-legacy/gans"); otherwise name
// may be empty.
func FromPackage(path, name string, scale int) (Definition, error) {
	pkg, err := tfjs.OpenPackage(path)
	if err != nil {
		return Definition{}, err
	}
	var matches []Family
	for _, f := range official {
		if f.Package == pkg.Name && (name == "" || name == f.Name) {
			matches = append(matches, f)
		}
	}
	if len(matches) == 0 {
		return Definition{}, fmt.Errorf("models: %s contains %s@%s, which is not an official UpscalerJS model package; load its model.json with --scale instead", path, pkg.Name, pkg.Version)
	}
	// A package with several families picks the first that has the scale.
	for _, f := range matches {
		s := scale
		if s == 0 {
			s = f.DefaultScale()
		}
		if _, ok := f.Paths[s]; !ok {
			continue
		}
		if f.Version != pkg.Version {
			return Definition{}, fmt.Errorf("models: %s contains %s@%s but the catalog lists version %s", path, pkg.Name, pkg.Version, f.Version)
		}
		d := f.definition(s)
		d.Source = path
		return d, nil
	}
	return Definition{}, fmt.Errorf("models: %s (%s) has no %dx model", path, pkg.Name, scale)
}

// Custom returns a definition for a model.json file or model folder
// supplied by the user, with the given scale and ranges.
func Custom(path string, scale int, in, out Range) Definition {
	return Definition{Name: filepath.Base(path), Scale: scale, Source: path, InputRange: in, OutputRange: out}
}

// CacheDir returns the folder where pulled model packages are kept:
// $UPSCALER_CACHE if set, else "upscaler/models" under os.UserCacheDir.
func CacheDir() string {
	if d := os.Getenv("UPSCALER_CACHE"); d != "" {
		return d
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "upscaler", "models")
}

// CachePath returns the folder that holds the unpacked package pkg@version
// in the cache.
func CachePath(pkg, version string) string {
	return filepath.Join(CacheDir(), strings.ReplaceAll(strings.TrimPrefix(pkg, "@"), "/", "-")+"@"+version)
}
