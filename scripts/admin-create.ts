// npm run admin:create -- --email admin@example.com --name "Ada Admin" [--password ...]
// Creates an admin, or promotes and reactivates an existing account. Without --password (or ADMIN_PASSWORD)
// the password is read from standard input, so it stays out of the shell history.
import { parseArgs } from 'node:util';
import readline from 'node:readline/promises';
import { z } from 'zod';
import { loadEnvOrExit } from '../src/config/env.js';
import { createLogger } from '../src/lib/logger.js';
import { createServices } from '../src/services.js';
import { email, name, newPassword } from '../src/modules/auth/auth.schemas.js';
import { translator } from '../src/lib/i18n.js';

const { values } = parseArgs({ options: { email: { type: 'string' }, name: { type: 'string' }, password: { type: 'string' } } });
let password = values.password ?? process.env.ADMIN_PASSWORD;
if (!password) {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  password = (await rl.question('Password (8-128 characters): ')).trim();
  rl.close();
}
const parsed = z.object({ email, name, password: newPassword }).safeParse({ email: values.email, name: values.name ?? values.email?.split('@')[0], password });
if (!parsed.success) {
  const t = translator('en');
  process.stderr.write(`admin:create: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${t(i.message, { min: 8, max: 128 })}`).join(' ')}\n`);
  process.stderr.write('usage: npm run admin:create -- --email EMAIL --name NAME [--password PASSWORD]\n');
  process.exit(1);
}
const env = loadEnvOrExit();
const services = await createServices(env, createLogger('warn'));
try {
  const user = await services.users.createOrPromoteAdmin(parsed.data);
  process.stdout.write(`admin ready: ${user.email} (id ${user.id})\n`);
} finally {
  await services.close();
}
