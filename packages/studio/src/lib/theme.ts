/** Light and dark themes: the system's choice until the user picks one (kept in localStorage). */
const KEY = 'atelier.studio.theme';
export type Theme = 'light' | 'dark';

export function currentTheme(): Theme {
  const saved = localStorage.getItem(KEY);
  if (saved === 'light' || saved === 'dark') return saved;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function initTheme(): void {
  document.documentElement.dataset.theme = currentTheme();
}

export function setTheme(t: Theme): void {
  localStorage.setItem(KEY, t);
  document.documentElement.dataset.theme = t;
  window.dispatchEvent(new Event('atelier-theme'));
}
