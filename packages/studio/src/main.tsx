import { createRoot } from 'react-dom/client';
import { App } from './app';
import { completeSignIn } from './lib/auth';
import { fromTrackingUri } from './lib/router';
import { initTheme } from './lib/theme';
import './styles.css';
import 'uplot/dist/uPlot.min.css';

initTheme();
fromTrackingUri();
const signInError = await completeSignIn();
createRoot(document.getElementById('root')!).render(<App signInError={signInError} />);
