import { signIn } from '../lib/auth';

export function SignIn({ error }: { error: string | null }) {
  return (
    <main id="main" className="signin">
      <div className="signin-card">
        <h1>Atelier Studio</h1>
        <p>Workspaces, experiments, runs and models of this Atelier server.</p>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="button" className="primary" onClick={() => void signIn()}>
          Sign in
        </button>
        <p className="muted small">
          You sign in on this server&apos;s own sign-in page; the studio never sees your password.
        </p>
      </div>
    </main>
  );
}
