// The framework's ceiling: a bare Express 5 route in its own process (no middleware, no database, no view).
import express from 'express';

const app = express();
app.disable('x-powered-by');
app.get('/ready', (_req, res) => void res.send('ok'));
app.get('/hello', (_req, res) => void res.type('text/html').send('<!doctype html><title>hello</title><p>hello</p>'));
const server = app.listen(Number(process.env.BENCH_PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
