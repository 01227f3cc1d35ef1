import crypto from 'node:crypto';
/**
 * Words the bench data is made of: Russian names (with a transliteration for e-mail addresses), English names,
 * companies, streets, comments. Arrays of the same family are parallel (ruMale[i] ↔ ruMaleLat[i]).
 */

const TRANSLIT: Record<string, string> = {
  а: 'a', б: 'b', в: 'v', г: 'g', д: 'd', е: 'e', ё: 'e', ж: 'zh', з: 'z', и: 'i', й: 'y', к: 'k', л: 'l', м: 'm', н: 'n',
  о: 'o', п: 'p', р: 'r', с: 's', т: 't', у: 'u', ф: 'f', х: 'kh', ц: 'ts', ч: 'ch', ш: 'sh', щ: 'shch', ъ: '', ы: 'y', ь: '',
  э: 'e', ю: 'yu', я: 'ya',
};
export const translit = (s: string) => [...s.toLowerCase()].map((c) => TRANSLIT[c] ?? c).join('').replace(/[^a-z0-9-]/g, '');

export const ruMale = [
  'Александр', 'Дмитрий', 'Максим', 'Сергей', 'Андрей', 'Алексей', 'Иван', 'Михаил', 'Николай', 'Павел', 'Егор', 'Олег',
  'Виктор', 'Юрий', 'Кирилл', 'Роман', 'Артём', 'Владимир', 'Игорь', 'Константин', 'Евгений', 'Денис', 'Тимур', 'Григорий',
];
export const ruFemale = [
  'Анна', 'Мария', 'Елена', 'Ольга', 'Наталья', 'Екатерина', 'Татьяна', 'Ирина', 'Светлана', 'Юлия', 'Анастасия', 'Дарья',
  'Ксения', 'Марина', 'Виктория', 'Полина', 'Алина', 'Вера', 'Людмила', 'Софья', 'Галина', 'Надежда', 'Валерия', 'Ульяна',
];
/** Male surnames; the female form adds "а" (all end in -ов/-ев/-ёв/-ин). */
export const ruSurnames = [
  'Иванов', 'Смирнов', 'Кузнецов', 'Попов', 'Васильев', 'Петров', 'Соколов', 'Михайлов', 'Новиков', 'Фёдоров', 'Морозов',
  'Волков', 'Алексеев', 'Лебедев', 'Семёнов', 'Егоров', 'Павлов', 'Козлов', 'Степанов', 'Николаев', 'Орлов', 'Андреев',
  'Макаров', 'Никитин', 'Захаров', 'Зайцев', 'Соловьёв', 'Борисов', 'Яковлев', 'Григорьев', 'Романов', 'Воробьёв', 'Сергеев',
  'Кузьмин', 'Фролов', 'Александров', 'Дмитриев', 'Королёв', 'Гусев', 'Киселёв', 'Ильин', 'Максимов', 'Поляков', 'Сорокин',
  'Виноградов', 'Ковалёв', 'Белов', 'Медведев', 'Антонов', 'Тарасов',
];
export const enFirst = [
  'James', 'Oliver', 'George', 'Harry', 'Jack', 'Thomas', 'William', 'Daniel', 'Samuel', 'Michael', 'David', 'Robert',
  'Emily', 'Olivia', 'Amelia', 'Isla', 'Ava', 'Sophie', 'Grace', 'Charlotte', 'Emma', 'Hannah', 'Lucy', 'Chloe', 'Laura',
  'Sarah', 'Jessica', 'Rachel', 'Peter', 'Andrew',
];
export const enLast = [
  'Smith', 'Jones', 'Taylor', 'Brown', 'Williams', 'Wilson', 'Johnson', 'Davies', 'Robinson', 'Wright', 'Thompson', 'Evans',
  'Walker', 'White', 'Roberts', 'Green', 'Hall', 'Wood', 'Jackson', 'Clarke', 'Patel', 'Khan', 'Lewis', 'Harris', 'Martin',
  'Cooper', 'King', 'Lee', 'Baker', 'Turner', "O'Brien", 'Murphy', 'Kelly', 'Hughes', 'Edwards', 'Collins', 'Stewart',
  'Morris', 'Morgan', 'Bell',
];
export const ruCompanyForms = ['ООО', 'АО', 'ПАО', 'ИП', 'ООО', 'ООО'];
export const ruCompanyWords = [
  'Ромашка', 'Северный ветер', 'Технопром', 'СтройИнвест', 'Альфа-Логистик', 'Вектор', 'Гранит', 'Меридиан', 'Сибирь-Трейд',
  'Уральские машины', 'Волга-Агро', 'ТехноСервис', 'Интегра', 'Балтика-Снаб', 'Кедр', 'Орион', 'Прогресс', 'Энергосбыт',
  'Медтехника', 'Атлант', 'ЭкоДом', 'Радуга', 'Стандарт-М', 'ПромАвтоматика', 'Нева', 'Калина', 'Восход', 'Фарм-Логистика',
  'Сфера', 'Горизонт',
];
export const enCompanyWords = [
  'Acme', 'Northwind', 'Bluebird', 'Harbour', 'Summit', 'Granite', 'Redwood', 'Silverline', 'Brightwater', 'Oakridge',
  'Pinnacle', 'Evergreen', 'Keystone', 'Lighthouse', 'Meridian', 'Nimbus', 'Orchard', 'Riverside', 'Sterling', 'Thames',
  'Vertex', 'Westfield', 'Zephyr', 'Beacon', 'Crescent',
];
export const enCompanySuffixes = ['Ltd', 'LLC', 'Inc.', 'Group', 'Logistics', 'Software', 'Consulting', 'Holdings', 'Partners', 'Foods'];
export const ruCities = ['Москва', 'Санкт-Петербург', 'Новосибирск', 'Екатеринбург', 'Казань', 'Нижний Новгород', 'Самара', 'Краснодар', 'Пермь', 'Воронеж'];
export const ruStreets = ['ул. Ленина', 'пр. Мира', 'ул. Гагарина', 'Невский пр.', 'ул. Пушкина', 'ул. Советская', 'ул. Садовая', 'наб. Фонтанки', 'ул. Лесная', 'Тверская ул.'];
export const enCities = ['London', 'Manchester', 'Leeds', 'Bristol', 'Edinburgh', 'Dublin', 'New York', 'Boston', 'Toronto', 'Berlin'];
export const enStreets = ['High Street', 'Station Road', 'Church Lane', 'Victoria Road', 'Park Avenue', 'Mill Lane', 'King Street', 'Queensway', 'Market Place', 'Bridge Street'];
export const ruDomains = ['mail.ru', 'yandex.ru', 'gmail.com', 'bk.ru', 'inbox.ru', 'rambler.ru'];
export const enDomains = ['gmail.com', 'outlook.com', 'yahoo.com', 'icloud.com', 'hotmail.co.uk', 'proton.me'];

export const ruDescriptions = [
  'Интересуется годовой подпиской, просит коммерческое предложение.',
  'Пришёл с выставки, нужна демонстрация для отдела закупок.',
  'Сравнивает нас с двумя конкурентами, решение в следующем квартале.',
  'Бюджет согласован, ждём подписи директора.',
  'Просили перезвонить после отпуска.',
  'Нужна интеграция с 1С и выгрузка в Excel.',
];
export const enDescriptions = [
  'Asked for a quote for 25 seats, annual billing.',
  'Met at the trade show; wants a demo for the purchasing team.',
  'Comparing us with two competitors, decision next quarter.',
  'Budget approved, waiting for the director to sign.',
  'Call back after the holidays.',
  'Needs an integration with their ERP and Excel exports.',
];
export const ruComments = [
  'Созвонились, отправил презентацию и прайс.',
  'Клиент просит скидку 10% при оплате за год.',
  'Перенесли встречу на четверг, 15:00.',
  'Отправили договор на согласование юристам.',
  'Не берёт трубку, напишу на почту.',
  'Договорились о пробном периоде на две недели.',
  'Вопрос по срокам поставки — уточнить у склада.',
  'Руководитель отдела закупок подтвердил интерес.',
];
export const enComments = [
  'Had a call, sent the deck and the price list.',
  'They ask for a 10% discount on annual billing.',
  'Meeting moved to Thursday, 3 pm.',
  'Contract sent to their legal team for review.',
  'No answer on the phone, following up by e-mail.',
  'Agreed on a two-week trial.',
  'Question about delivery times — check with the warehouse.',
  'Head of purchasing confirmed their interest.',
];

/** All of it as SQL arrays, in the column order of bench_gen.dict. */
export function dictColumns(): Record<string, string[]> {
  return {
    ru_m: ruMale,
    ru_m_t: ruMale.map(translit),
    ru_f: ruFemale,
    ru_f_t: ruFemale.map(translit),
    ru_last: ruSurnames,
    ru_last_t: ruSurnames.map(translit),
    en_first: enFirst,
    en_last: enLast,
    ru_co_form: ruCompanyForms,
    ru_co: ruCompanyWords,
    ru_co_t: ruCompanyWords.map(translit),
    en_co: enCompanyWords,
    en_suffix: enCompanySuffixes,
    ru_city: ruCities,
    ru_street: ruStreets,
    en_city: enCities,
    en_street: enStreets,
    ru_domain: ruDomains,
    en_domain: enDomains,
    ru_desc: ruDescriptions,
    en_desc: enDescriptions,
    ru_comment: ruComments,
    en_comment: enComments,
  };
}

/**
 * What people type into the search box: pieces of the names, 4 to 6 letters, common ("иван", 19,000 leads) and rare
 * alike, in a fixed, mixed order (by hash), the same in every run.
 */
export function searchTerms(): string[] {
  const terms = [...new Set([...ruSurnames, ...ruMale, ...ruFemale, ...enFirst, ...enLast].flatMap((word) => {
    const w = word.toLowerCase();
    return [4, 5, 6].flatMap((len) => Array.from({ length: Math.max(0, w.length - len + 1) }, (_, i) => w.slice(i, i + len)));
  }))];
  const hashOf = (t: string) => crypto.createHash('sha1').update(t).digest('hex');
  return terms.sort((a, b) => (hashOf(a) < hashOf(b) ? -1 : 1));
}

/**
 * Days from 2030 on, one each, as YYYY-MM-DD: a "created to" filter with any of them matches every lead, and each
 * makes another page (the "nothing reused" figures). More than requests in a figure's window, and than the memos hold.
 */
export const laterDates = (n = 10_000) => Array.from({ length: n }, (_, i) => new Date(Date.UTC(2030, 0, 1) + i * 86_400_000).toISOString().slice(0, 10));
