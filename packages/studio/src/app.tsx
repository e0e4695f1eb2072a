import { useEffect, useState, useSyncExternalStore } from 'react';
import { claims, onAuthChange, signedIn, signOut } from './lib/auth';
import { useRoute } from './lib/router';
import { currentTheme, setTheme } from './lib/theme';
import { SignIn } from './pages/sign-in';
import { Home } from './pages/home';
import { WorkspaceArea } from './pages/workspace-area';
import { Empty, Page } from './components/ui';

function useSignedIn(): boolean {
  return useSyncExternalStore(onAuthChange, signedIn);
}

function ThemeToggle() {
  const [theme, set] = useState(currentTheme());
  useEffect(() => {
    const l = () => set(currentTheme());
    window.addEventListener('atelier-theme', l);
    return () => window.removeEventListener('atelier-theme', l);
  }, []);
  const next = theme === 'dark' ? 'light' : 'dark';
  return (
    <button type="button" className="ghost" onClick={() => setTheme(next)} aria-label={`Switch to ${next} theme`}>
      {theme === 'dark' ? '☀ Light' : '☾ Dark'}
    </button>
  );
}

export function App({ signInError }: { signInError: string | null }) {
  const isSignedIn = useSignedIn();
  const route = useRoute();
  useEffect(() => {
    // Focus the page's heading on navigation, so keyboard and screen-reader users land on the new view.
    document.querySelector<HTMLElement>('main h1')?.focus({ preventScroll: true });
  }, [route.path]);
  if (!isSignedIn) return <SignIn error={signInError} />;
  const user = claims();
  const [top] = route.segments;
  let body;
  if (!top) body = <Home />;
  else if (top === 'w' && route.segments.length >= 4) body = <WorkspaceArea route={route} />;
  else
    body = (
      <Page title="Not found">
        <Empty title={`Nothing here at ${route.path}.`}>
          <a href="#/">Go to your workspaces</a>
        </Empty>
      </Page>
    );
  return (
    <>
      <a className="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header className="topbar">
        <a className="brand" href="#/">
          Atelier Studio
        </a>
        <div className="spacer" />
        <ThemeToggle />
        <span className="user" title="Signed in as">
          {String(user.preferred_username ?? user.name ?? user.unique_name ?? user.sub ?? '')}
        </span>
        <button type="button" className="ghost" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {body}
      </main>
    </>
  );
}
