// Strings of the screens most people never open (the admin console, privacy settings), kept out of
// the first screen: they load with those screens and join the tables of English (every key's
// fallback) and of the language in use. Call `lazyStrings()` before building such a screen.
import { LANGUAGES, language } from '../i18n.js';

const PACKS = { en: () => import('./admin.en.js'), 'zh-CN': () => import('./admin.zh-CN.js') };
const merged = new WeakSet();

export async function lazyStrings() {
  const wanted = LANGUAGES.filter((lang) => lang.strings && (lang.code === 'en' || lang.code === language()));
  await Promise.all(wanted.filter((lang) => !merged.has(lang.strings)).map(async (lang) => {
    Object.assign(lang.strings, (await PACKS[lang.code]()).default);
    merged.add(lang.strings);
  }));
}
