// npm run seed:demo [-- --force]
//
// Fills an empty database with a small, realistic data set for trying the app: 3 groups, 10 users (one admin;
// Russian and English names), managers and members, 200 leads over the last six months (statuses, sources,
// values, owners), 50 clients (30 converted from leads, so their history comes along), comments in Russian
// and English, a few attached files, and the activity all of that leaves. Everything goes through the app's
// services (validation, policy, activity log); only the timestamps are moved into the past afterwards.
// Works on DATABASE_URL or the embedded database. Refuses when users exist, unless --force (empties every table).
import fs from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadEnvOrExit } from '../src/config/env.js';
import { createLogger } from '../src/lib/logger.js';
import { createServices, type Services } from '../src/services.js';
import { newPassword } from '../src/modules/auth/auth.schemas.js';
import { leadInput } from '../src/modules/leads/leads.schemas.js';
import { clientInput } from '../src/modules/clients/clients.schemas.js';
import type { Actor } from '../src/modules/access/policy.js';
import type { User } from '../src/modules/users/users.repository.js';

export const DEMO_PASSWORD = 'tandem-demo-2026';
const DAY = 86_400_000;

const { values: args } = parseArgs({ options: { force: { type: 'boolean', default: false } } });

// A fixed seed: the demo is the same every time.
let state = 20_261_126;
function rand() {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const chance = (p: number) => rand() < p;
const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 10)).join('');
/** Log-normal around `median`, rounded to `step`. */
const money = (median: number, step: number) => {
  const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return String(Math.max(step, Math.round((median * Math.exp(1.0 * z)) / step) * step));
};

// --- people -------------------------------------------------------------------------------------------------

type Role = 'manager' | 'member';
interface Person {
  email: string;
  name: string;
  locale: 'ru' | 'en';
  admin?: boolean;
  groups: [string, Role][];
}
const MOSCOW = 'Продажи Москва';
const LONDON = 'Sales London';
const PARTNERS = 'Партнёры / Partners';
const PEOPLE: Person[] = [
  { email: 'alexei.volkov@example.com', name: 'Алексей Волков', locale: 'ru', admin: true, groups: [] },
  { email: 'maria.ivanova@example.com', name: 'Мария Иванова', locale: 'ru', groups: [[MOSCOW, 'manager']] },
  { email: 'dmitry.sokolov@example.com', name: 'Дмитрий Соколов', locale: 'ru', groups: [[MOSCOW, 'member']] },
  { email: 'elena.kuznetsova@example.com', name: 'Елена Кузнецова', locale: 'ru', groups: [[MOSCOW, 'member'], [PARTNERS, 'member']] },
  { email: 'sergey.petrov@example.com', name: 'Сергей Петров', locale: 'ru', groups: [[MOSCOW, 'member']] },
  { email: 'james.wilson@example.com', name: 'James Wilson', locale: 'en', groups: [[LONDON, 'manager']] },
  { email: 'emily.clarke@example.com', name: 'Emily Clarke', locale: 'en', groups: [[LONDON, 'member']] },
  { email: 'oliver.brown@example.com', name: 'Oliver Brown', locale: 'en', groups: [[LONDON, 'member'], [PARTNERS, 'member']] },
  { email: 'sophie.taylor@example.com', name: 'Sophie Taylor', locale: 'en', groups: [[PARTNERS, 'manager']] },
  { email: 'ivan.morozov@example.com', name: 'Иван Морозов', locale: 'ru', groups: [[PARTNERS, 'member']] },
];
const GROUPS = [
  { name: MOSCOW, description: 'Входящие заявки и холодные звонки по Москве и области.', visibility: 'all' as const, leads: 90, clients: 8, lang: 'ru' as const },
  { name: LONDON, description: 'Inbound and outbound sales, UK and Ireland.', visibility: 'all' as const, leads: 70, clients: 8, lang: 'en' as const },
  // Plain members of this group see only the records they own or created.
  { name: PARTNERS, description: 'Реселлеры и интеграторы · resellers and integrators. Members see their own records.', visibility: 'own' as const, leads: 40, clients: 4, lang: 'mixed' as const },
];

const RU_M = ['Александр', 'Андрей', 'Максим', 'Николай', 'Павел', 'Игорь', 'Олег', 'Виктор', 'Роман', 'Константин', 'Евгений', 'Артём'];
const RU_F = ['Анна', 'Ольга', 'Наталья', 'Татьяна', 'Ирина', 'Светлана', 'Юлия', 'Дарья', 'Ксения', 'Марина', 'Вера', 'Полина'];
const RU_LAST = ['Смирнов', 'Попов', 'Васильев', 'Новиков', 'Фёдоров', 'Лебедев', 'Козлов', 'Степанов', 'Орлов', 'Макаров', 'Никитин', 'Захаров', 'Зайцев', 'Борисов', 'Яковлев', 'Романов', 'Гусев', 'Белов', 'Медведев', 'Тарасов'];
const RU_CO = ['ООО «Ромашка»', 'АО «Технопром»', 'ООО «СтройИнвест»', 'ООО «Вектор»', 'ПАО «Меридиан»', 'ООО «Сибирь-Трейд»', 'ООО «Кедр»', 'АО «Энергосбыт»', 'ООО «Медтехника»', 'ИП Гусев', 'ООО «ЭкоДом»', 'ООО «ПромАвтоматика»', 'АО «Балтика-Снаб»', 'ООО «Горизонт»'];
const EN_FIRST = ['Harry', 'Jack', 'Thomas', 'William', 'Daniel', 'Samuel', 'Olivia', 'Amelia', 'Isla', 'Grace', 'Charlotte', 'Hannah', 'Lucy', 'Chloe'];
const EN_LAST = ['Smith', 'Jones', 'Taylor', 'Davies', 'Evans', 'Walker', 'Roberts', 'Wright', 'Hughes', 'Patel', 'Khan', 'Murphy', "O'Brien", 'Turner', 'Cooper'];
const EN_CO = ['Northwind Logistics Ltd', 'Bluebird Software', 'Harbour Foods Ltd', 'Granite Consulting', 'Redwood Partners LLP', 'Silverline Group', 'Oakridge Holdings', 'Thames Valley Print', 'Keystone Analytics', 'Beacon Health'];
const SOURCES = ['website', 'website', 'website', 'referral', 'referral', 'cold_call', 'email', 'event', 'partner', 'social', 'other'] as const;
const RU_NOTES = ['Интересуется годовой подпиской, просит КП.', 'Нужна интеграция с 1С.', 'Пришёл с выставки «Связь-2026».', 'Сравнивают с двумя конкурентами.', ''];
const EN_NOTES = ['Wants a quote for 25 seats, annual billing.', 'Met at the London Tech Week stand.', 'Needs an ERP integration and Excel exports.', 'Decision expected next quarter.', ''];
const RU_COMMENTS = [
  'Созвонились, отправил презентацию и прайс.', 'Клиент просит скидку 10% при оплате за год.', 'Перенесли встречу на четверг, 15:00.',
  'Отправили договор на согласование юристам.', 'Не берёт трубку, напишу на почту.', 'Договорились о пробном периоде на две недели.',
  'Руководитель отдела закупок подтвердил интерес.', 'Попросили демо для ИТ-отдела, назначил на вторник.',
];
const EN_COMMENTS = [
  'Had a call, sent the deck and the price list.', 'They ask for 10% off on annual billing.', 'Meeting moved to Thursday, 3 pm.',
  'Contract is with their legal team.', 'No answer on the phone, following up by email.', 'Agreed on a two-week trial.',
  'Head of purchasing confirmed their interest.', 'Demo for their IT team booked for Tuesday.',
];

function translit(s: string) {
  const map: Record<string, string> = { а: 'a', б: 'b', в: 'v', г: 'g', д: 'd', е: 'e', ё: 'e', ж: 'zh', з: 'z', и: 'i', й: 'y', к: 'k', л: 'l', м: 'm', н: 'n', о: 'o', п: 'p', р: 'r', с: 's', т: 't', у: 'u', ф: 'f', х: 'kh', ц: 'ts', ч: 'ch', ш: 'sh', щ: 'shch', ъ: '', ы: 'y', ь: '', э: 'e', ю: 'yu', я: 'ya' };
  return [...s.toLowerCase()].map((c) => map[c] ?? c).join('').replace(/[^a-z]/g, '');
}

/** A contact person of the group's language: names, e-mail, phone, company, note. */
function contact(lang: 'ru' | 'en') {
  if (lang === 'ru') {
    const female = chance(0.5);
    const first = pick(female ? RU_F : RU_M);
    const last = pick(RU_LAST) + (female ? 'а' : '');
    return {
      firstName: first, lastName: last, lang,
      email: chance(0.85) ? `${translit(first)}.${translit(last)}@${pick(['mail.ru', 'yandex.ru', 'gmail.com', 'company.ru'])}` : '',
      phone: chance(0.8) ? `+7 9${digits(2)} ${digits(3)}-${digits(2)}-${digits(2)}` : '',
      company: chance(0.75) ? pick(RU_CO) : '',
      description: pick(RU_NOTES),
    };
  }
  const first = pick(EN_FIRST);
  const last = pick(EN_LAST);
  return {
    firstName: first, lastName: last, lang,
    email: chance(0.9) ? `${first.toLowerCase()}.${last.toLowerCase().replace(/'/g, '')}@${pick(['gmail.com', 'outlook.com', 'example.co.uk'])}` : '',
    // Ofcom's drama range: numbers that never ring anyone.
    phone: chance(0.8) ? `+44 20 7946 0${digits(3)}` : '',
    company: chance(0.8) ? pick(EN_CO) : '',
    description: pick(EN_NOTES),
  };
}

// --- main ---------------------------------------------------------------------------------------------------

const env = loadEnvOrExit();
if (env.isProduction && !args.force) {
  process.stderr.write('seed:demo: NODE_ENV is production; demo data does not belong there (use --force if you really mean it).\n');
  process.exit(1);
}
if (!newPassword.safeParse(DEMO_PASSWORD).success) throw new Error('the demo password fails the password rules');

const services = await createServices(env, createLogger('warn'));
const { pool } = services.database;
try {
  const userCount = (await pool.query<{ n: number }>('select count(*)::int as n from users')).rows[0]?.n ?? 0;
  if (userCount > 0 && !args.force) {
    process.stderr.write(
      `seed:demo: the database already has ${userCount} user(s); the demo data goes into an empty database only.\n` +
        'Run `npm run seed:demo -- --force` to empty every table first (everything in it is lost).\n',
    );
    process.exitCode = 1;
  } else {
    if (args.force) await emptyDatabase(services);
    await seed(services);
  }
} finally {
  await services.close();
}

async function emptyDatabase(s: Services) {
  // Stored files first (their rows say where they are), then every table.
  const { rows: stored } = await pool.query<{ storage_name: string }>('select storage_name from files');
  await s.files.removeStoredFiles(stored.map((r) => r.storage_name));
  const { rows } = await pool.query<{ tablename: string }>("select tablename from pg_tables where schemaname = 'public'");
  if (rows.length) await pool.query(`truncate ${rows.map((r) => `"${r.tablename}"`).join(', ')} restart identity cascade`);
  process.stdout.write(`emptied ${rows.length} tables and ${stored.length} stored files\n`);
}

async function seed(s: Services) {
  const started = Date.now();
  // Users: the admin from the shell command's service, the others as registration makes them.
  const users = new Map<string, User>();
  for (const p of PEOPLE) {
    const user = p.admin
      ? await s.users.createOrPromoteAdmin({ email: p.email, name: p.name, password: DEMO_PASSWORD })
      : await s.auth.register({ email: p.email, name: p.name, password: DEMO_PASSWORD }, p.locale);
    await s.users.setLocale(user.id, p.locale);
    users.set(p.email, user);
  }
  const adminUser = users.get(PEOPLE[0]!.email)!;
  const admin = await s.users.actorFor(adminUser);

  const groupIds = new Map<string, number>();
  for (const g of GROUPS) {
    const group = await s.groups.create(admin, { name: g.name, description: g.description, visibility: g.visibility });
    groupIds.set(g.name, group.id);
  }
  for (const p of PEOPLE) for (const [g, role] of p.groups) await s.groups.addMember(admin, groupIds.get(g)!, { userId: users.get(p.email)!.id, role });
  const actors = new Map<number, Actor>();
  for (const u of users.values()) actors.set(u.id, await s.users.actorFor(u));
  const membersOf = (group: string) => PEOPLE.filter((p) => p.groups.some(([g]) => g === group)).map((p) => users.get(p.email)!.id);
  const managerOf = (group: string) => users.get(PEOPLE.find((p) => p.groups.some(([g, r]) => g === group && r === 'manager'))!.email)!.id;

  // Leads: created by their owner (or the manager, for unassigned ones), then worked: status changes, comments.
  let leadCount = 0;
  let commentCount = 0;
  const convertible: { id: number; actor: Actor }[] = [];
  const workedLeads: { id: number; group: string; actor: Actor }[] = [];
  for (const g of GROUPS) {
    const groupId = groupIds.get(g.name)!;
    const members = membersOf(g.name);
    for (let i = 0; i < g.leads; i++) {
      const lang = g.lang === 'mixed' ? (chance(0.6) ? 'ru' : 'en') : g.lang;
      const c = contact(lang);
      const ownerId = chance(0.1) ? null : pick(members);
      const actor = actors.get(ownerId ?? managerOf(g.name))!;
      const lead = await s.leads.create(actor, leadInput.parse({
        groupId: String(groupId), ownerId: ownerId ? String(ownerId) : '', firstName: c.firstName, lastName: c.lastName, email: c.email, phone: c.phone,
        company: c.company, source: chance(0.92) ? pick(SOURCES) : '', status: 'new',
        value: chance(0.8) ? (lang === 'ru' ? money(350_000, 5_000) : money(12_000, 250)) : '', description: c.description,
      }));
      leadCount++;
      // Where it got to: new 35%, contacted 25%, qualified 15% (+15% converted later), lost 10%.
      const r = rand();
      const steps = r < 0.35 ? [] : r < 0.6 ? ['contacted'] : r < 0.9 ? ['contacted', 'qualified'] : ['contacted', 'lost'];
      for (const status of steps) await s.leads.setStatus(actor, lead.id, status as 'contacted' | 'qualified' | 'lost');
      if (steps.length && chance(0.7)) {
        const n = 1 + Math.floor(rand() * 4);
        for (let k = 0; k < n; k++) {
          // The owner, or the manager (in an "own records" group other members do not even see the lead).
          const author = actors.get(chance(0.7) ? actor.id : managerOf(g.name))!;
          await s.comments.add(author, { kind: 'lead', id: lead.id }, pick(lang === 'ru' ? RU_COMMENTS : EN_COMMENTS));
          commentCount++;
        }
      }
      if (steps.at(-1) === 'qualified') convertible.push({ id: lead.id, actor });
      workedLeads.push({ id: lead.id, group: g.name, actor });
    }
  }

  // A few files, uploaded as the upload route hands them over (temp files in the upload area).
  const FILES = [
    ['Коммерческое предложение.txt', 'Коммерческое предложение\n\nЛицензия Tandem CRM, 25 мест, 12 месяцев.\nИтого: 450 000 ₽ без НДС.\n'],
    ['price-list-2026.csv', 'item,seats,price_gbp\nTandem CRM Standard,10,2400\nTandem CRM Business,25,5400\nOnboarding,1,800\n'],
    ['meeting-notes.txt', 'Meeting notes\n- wants SSO\n- budget approved in Q1\n- next step: trial\n'],
    ['Реквизиты.txt', 'ООО «Ромашка»\nИНН 7701234567\nКПП 770101001\nр/с 40702810000000000001\n'],
    ['requirements.csv', 'requirement,priority\nExcel export,high\nRussian interface,high\nAPI,medium\n'],
  ] as const;
  let fileCount = 0;
  await fs.mkdir(s.files.tempDir, { recursive: true });
  for (const [i, [name, content]] of FILES.entries()) {
    const target = workedLeads[i * 17]!;
    const temp = path.join(s.files.tempDir, crypto.randomUUID());
    await fs.writeFile(temp, content);
    const head = await s.files.headForUpload(target.actor, { kind: 'lead', id: target.id });
    await s.files.upload(target.actor, head, [{ path: temp, originalname: name }]);
    fileCount++;
  }

  // 30 conversions (history goes with them), then 20 clients that never were leads.
  let clientCount = 0;
  const conversions = convertible.slice(0, 30);
  for (const { id, actor } of conversions) {
    await s.leads.convert(actor, id);
    clientCount++;
  }
  for (const g of GROUPS) {
    const groupId = groupIds.get(g.name)!;
    const members = membersOf(g.name);
    for (let i = 0; i < g.clients; i++) {
      const lang = g.lang === 'mixed' ? (chance(0.6) ? 'ru' : 'en') : g.lang;
      const c = contact(lang);
      const company = c.company || (lang === 'ru' ? pick(RU_CO) : pick(EN_CO));
      const ownerId = pick(members);
      const client = await s.clients.create(actors.get(ownerId)!, clientInput.parse({
        groupId: String(groupId), ownerId: String(ownerId), name: chance(0.6) ? company : `${c.firstName} ${c.lastName}`, company, email: c.email, phone: c.phone,
        address: lang === 'ru' ? `г. Москва, ул. ${pick(['Тверская', 'Арбат', 'Профсоюзная', 'Ленинградский пр.'])}, д. ${1 + Math.floor(rand() * 90)}` : `${1 + Math.floor(rand() * 200)} ${pick(['High Street', 'King Street', 'Queensway'])}, London`,
        website: chance(0.5) ? `https://${translit(company) || company.toLowerCase().replace(/[^a-z]/g, '')}.${lang === 'ru' ? 'ru' : 'co.uk'}` : '',
        status: chance(0.85) ? 'active' : 'inactive', notes: c.description,
      }));
      if (chance(0.5)) {
        await s.comments.add(actors.get(ownerId)!, { kind: 'client', id: client.id }, pick(lang === 'ru' ? RU_COMMENTS : EN_COMMENTS));
        commentCount++;
      }
      clientCount++;
    }
  }

  await backdate();
  // Jobs the changes enqueued (file checks, notifications): run now without Redis, else they wait for the worker.
  await s.jobs.settle();

  process.stdout.write(
    `demo data ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${GROUPS.length} groups, ${PEOPLE.length} users, ${leadCount} leads, ` +
      `${clientCount} clients (${conversions.length} converted from leads), ${commentCount} comments, ${fileCount} files.\n\n` +
      `Sign in at ${env.APP_URL}/login with any of these (password for all: ${DEMO_PASSWORD}):\n\n`,
  );
  for (const p of PEOPLE) {
    const role = p.admin ? 'admin' : p.groups.map(([g, r]) => `${r} of ${g}`).join(', ');
    process.stdout.write(`  ${p.email.padEnd(32)} ${p.name.padEnd(18)} ${role}\n`);
  }
}

/**
 * Spreads the history over the last six months: each record gets a creation time, and its events (activity,
 * comments, files; a conversion's client) follow in the order they happened, up to now at the latest.
 */
async function backdate() {
  const now = Date.now();
  await pool.query(`update users set created_at = now() - interval '200 days', updated_at = now() - interval '200 days'`);
  await pool.query(`update groups set created_at = now() - interval '190 days', updated_at = now() - interval '190 days'`);
  await pool.query(`update memberships set created_at = now() - interval '190 days'`);
  const spread = async (kind: 'lead' | 'client', id: number) => {
    const col = kind === 'lead' ? 'lead_id' : 'client_id';
    const start = now - (3 + rand() * 177) * DAY;
    // Events in the order they were written, each 1-9 days after the last, never in the future.
    const { rows: events } = await pool.query<{ id: number; action: string }>(`select id, action from activities where ${col} = $1 order by id`, [id]);
    let t = start;
    const times: { id: number; action: string; at: Date }[] = [];
    for (const e of events) {
      times.push({ ...e, at: new Date(Math.min(t, now - 60_000)) });
      t += (1 + rand() * 8) * DAY;
    }
    for (const e of times) await pool.query('update activities set created_at = $2 where id = $1', [e.id, e.at]);
    // The k-th comment of the record was written with its k-th "commented" activity; files likewise.
    for (const [table, action] of [['comments', 'commented'], ['files', 'file_added']] as const) {
      const at = times.filter((e) => e.action === action).map((e) => e.at);
      const { rows } = await pool.query<{ id: number }>(`select id from ${table} where ${col} = $1 order by id`, [id]);
      for (const [k, r] of rows.entries()) if (at[k]) await pool.query(`update ${table} set created_at = $2 where id = $1`, [r.id, at[k]]);
    }
    const first = times[0]?.at ?? new Date(start);
    const last = times.at(-1)?.at ?? first;
    const converted = times.find((e) => e.action === 'converted')?.at;
    if (kind === 'lead') {
      await pool.query('update leads set created_at = $2, updated_at = $3, last_activity_at = $3, converted_at = case when converted_at is null then null else $4::timestamptz end where id = $1', [id, first, last, converted ?? last]);
      if (converted) await pool.query('update clients set created_at = $2, updated_at = $2 where lead_id = $1', [id, converted]);
    } else {
      await pool.query('update clients set created_at = $2, updated_at = $3 where id = $1 and lead_id is null', [id, first, last]);
    }
  };
  const { rows: leadIds } = await pool.query<{ id: number }>('select id from leads order by id');
  for (const { id } of leadIds) await spread('lead', id);
  const { rows: clientIds } = await pool.query<{ id: number }>('select id from clients where lead_id is null order by id');
  for (const { id } of clientIds) await spread('client', id);
}
