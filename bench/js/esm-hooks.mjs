// Module resolution hooks that let Node load the browser ES-module builds of
// upscaler@1.0.0 and the @upscalerjs model packages unchanged.
//
// Those builds were written for bundlers: they import folders ('..',
// '../shared') and files without the .js extension, and their package.json
// files do not declare "type": "module". Node's ESM loader rejects all
// three, so these hooks retry a failed relative import with '.js' and then
// '/index.js', and load files under those dist folders as ES modules.

const esmBuild = /\/node_modules\/(upscaler\/dist\/browser\/esm|@upscalerjs\/[^/]+\/dist\/esm)\//;

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    const relative = specifier.startsWith('./') || specifier.startsWith('../') || specifier === '..' || specifier === '.';
    if (!relative || !esmBuild.test(context.parentURL ?? '')) {
      throw err;
    }
    for (const suffix of ['.js', '/index.js']) {
      try {
        return await nextResolve(specifier + suffix, context);
      } catch {
        // Try the next suffix; the original error is the one to report.
      }
    }
    throw err;
  }
}

export async function load(url, context, nextLoad) {
  if (esmBuild.test(url) && url.endsWith('.js')) {
    return nextLoad(url, { ...context, format: 'module' });
  }
  return nextLoad(url, context);
}
