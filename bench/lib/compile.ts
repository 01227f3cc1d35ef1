import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { fromRoot } from '../../src/lib/paths.js';

/**
 * Transpiles src/ to plain JavaScript (the project's TypeScript, file by file, no type check) so the bench runs
 * the app as production does, `node server.js`, without a loader in the process (tsx adds memory and start-up
 * work) and without depending on a type-clean tree (others edit src/ while benchmarks run).
 * The output lives in bench/.build (git-ignored): inside the project, so the app still finds its root (package.json,
 * "type": "module") and its packages; not under node_modules, where Node would not apply the package's module
 * type. Returns the path of server.js.
 */
export function compileApp(): string {
  const out = fromRoot('bench', '.build');
  fs.rmSync(out, { recursive: true, force: true });
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    esModuleInterop: true,
    sourceMap: false,
  };
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        // .ts files of a "type": "module" package are ES modules; transpileModule needs to be told.
        const { outputText } = ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions: options, fileName: file.replace(/\.ts$/, '.mts') });
        const target = path.join(out, path.relative(fromRoot(), file)).replace(/\.ts$/, '.js');
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, outputText);
      }
    }
  };
  walk(fromRoot('src'));
  return path.join(out, 'src', 'server.js');
}
