// Package models describes the models an upscaler can run: the official
// UpscalerJS model packages, picked by name and scale, and models supplied
// by the caller.
//
// A Definition says where a model's files are and how to feed it: its scale,
// the value range its input and output use, an optional divisibility factor
// and fixed input size, optional tensor pre- and post-processing, custom
// layer classes, and free-form metadata.
//
// The default model, @upscalerjs/default-model 1.0.0 (the esrgan-slim x2
// network, MIT licence, see defaultmodel/LICENSE), is embedded in the
// binary, so Default works with no download. The other official models are
// read from their npm packages: a .tgz tarball or unpacked folder named by
// the caller, or the local model cache that "upscaler models pull" fills.
package models
