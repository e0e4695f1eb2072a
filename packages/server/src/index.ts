export { startServer, type RunningServer } from './server.js';
export { loadConfig, CONFIG_DOC, type ServerConfig } from './config.js';
export { createContext, type AppContext } from './context.js';
export { buildApp } from './app.js';
export { createServices, type Services } from './services.js';
export { prepareTls, ensureSelfSignedCertificate, trustInstructions, type TlsFiles } from './identity/tls.js';
export { resetAdminPasswordAt } from './identity/bootstrap.js';
