import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import semver from 'semver';
import { parse } from 'yaml';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * The deployment files (Dockerfile, docker-compose.yml, .env.template, CI) are
 * checked against the code they deploy: src/config.ts's envSchema is the list of
 * variables, so a new config variable that is not documented fails here.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

// ---- src/config.ts: the variables and their defaults ------------------------

/** Keys of `envSchema = z.object({...})` in src/config.ts, each with its `.default(...)` as text. */
function envSchemaOf(source: string): Map<string, string | undefined> {
  const file = ts.createSourceFile('config.ts', source, ts.ScriptTarget.Latest, true);
  let shape: ts.ObjectLiteralExpression | undefined;
  const visit = (node: ts.Node): void => {
    if (
      ts.isVariableDeclaration(node) &&
      node.name.getText(file) === 'envSchema' &&
      node.initializer !== undefined &&
      ts.isCallExpression(node.initializer) &&
      node.initializer.expression.getText(file) === 'z.object'
    ) {
      const [arg] = node.initializer.arguments;
      if (arg !== undefined && ts.isObjectLiteralExpression(arg)) shape = arg;
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  if (shape === undefined) throw new Error('src/config.ts: no `const envSchema = z.object({...})` found');
  const vars = new Map<string, string | undefined>();
  for (const property of shape.properties) {
    if (!ts.isPropertyAssignment(property)) throw new Error(`envSchema: unexpected member ${property.getText(file)}`);
    const name = ts.isStringLiteral(property.name) ? property.name.text : property.name.getText(file);
    vars.set(name, defaultOf(property.initializer, file));
  }
  return vars;
}

/** Walks a chain like `int(0, 65535).default(4000)` or `bool.optional()` for its default value. */
function defaultOf(expression: ts.Expression, file: ts.SourceFile): string | undefined {
  let node: ts.Expression = expression;
  while (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
    if (node.expression.name.text === 'default') {
      const [value] = node.arguments;
      if (value === undefined) return undefined;
      if (ts.isStringLiteral(value)) return value.text;
      if (ts.isNumericLiteral(value)) return String(Number(value.text.replace(/_/g, '')));
      return value.getText(file); // true / false, or an expression
    }
    node = node.expression.expression;
  }
  return undefined;
}

const SCHEMA = envSchemaOf(read('src/config.ts'));
const SCHEMA_VARS = [...SCHEMA.keys()];

// ---- .env.template ----------------------------------------------------------

interface TemplateEntry {
  value: string;
  /** The comment lines directly above the assignment, without "# ". */
  comment: string[];
}

/** NAME=value lines with the comment block right above each; `# NAME=...` lines are collected apart. */
function parseTemplate(text: string): { vars: Map<string, TemplateEntry>; commentedOut: Set<string> } {
  const vars = new Map<string, TemplateEntry>();
  const commentedOut = new Set<string>();
  let comment: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') {
      comment = [];
      continue;
    }
    if (line.startsWith('#')) {
      const body = line.replace(/^#\s?/, '');
      const disabled = /^([A-Z][A-Z0-9_]*)=/.exec(body);
      if (disabled) commentedOut.add(disabled[1]!);
      comment.push(body);
      continue;
    }
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!assignment) throw new Error(`.env.template: cannot read line "${line}"`);
    const name = assignment[1]!;
    if (vars.has(name)) throw new Error(`.env.template: ${name} is assigned twice`);
    vars.set(name, { value: unquote(assignment[2]!.trim()), comment });
    comment = [];
  }
  return { vars, commentedOut };
}

function unquote(value: string): string {
  const quoted = /^(["'])(.*)\1$/.exec(value);
  return quoted ? quoted[2]! : value;
}

const TEMPLATE_TEXT = read('.env.template');
const TEMPLATE = parseTemplate(TEMPLATE_TEXT);

/** The template's non-empty values, as an environment. */
function templateEnv(): Record<string, string> {
  return Object.fromEntries([...TEMPLATE.vars].filter(([, entry]) => entry.value !== '').map(([name, entry]) => [name, entry.value]));
}

/** Freshly generated secrets, JWT key written on one line with literal \n as the template shows. */
function generatedSecrets(): Record<string, string> {
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    VAULT_MASTER_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    VAULT_ACTIVE_MASTER_KEY: 'k1',
    JWT_PRIVATE_KEY: pem.replace(/\n/g, '\\n'),
  };
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

/** Variables loadConfig insists on in production, by name, from its own error. */
function requiredInProduction(): string[] {
  const error = configError(() => loadConfig({ NODE_ENV: 'production' }, { cwd: tmpdir(), warn: () => {} }));
  return error.problems.map((problem) => problem.split(':')[0]!);
}

// ---- docker-compose.yml -----------------------------------------------------

interface ComposeService {
  image?: string;
  profiles?: string[];
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | number | { target?: number; published?: string | number })[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  healthcheck?: { test?: string | string[] };
  restart?: string;
}

interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const COMPOSE = parse(read('docker-compose.yml')) as Compose;

/** Names compose interpolates in the file's values: ${VAR}, ${VAR:-x}, ${VAR:?x}, $VAR (not the escaped $$). */
function interpolatedNames(value: unknown, names = new Set<string>()): Set<string> {
  if (typeof value === 'string') {
    for (const match of value.matchAll(/(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/g)) {
      names.add((match[1] ?? match[2])!);
    }
  } else if (Array.isArray(value)) {
    for (const item of value) interpolatedNames(item, names);
  } else if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) interpolatedNames(item, names);
  }
  return names;
}

function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((item) => [item.split('=')[0]!, item.slice(item.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value === null ? '' : String(value)]));
}

function healthcheckCommand(service: ComposeService): string[] {
  const test = service.healthcheck?.test;
  if (test === undefined) return [];
  return typeof test === 'string' ? ['CMD-SHELL', test] : test;
}

// ---- Dockerfile -------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (pending !== '' && line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const space = full.search(/\s/);
    instructions.push({ keyword: full.slice(0, space).toUpperCase(), args: full.slice(space + 1).trim() });
  }
  return instructions;
}

const DOCKERFILE = parseDockerfile(read('Dockerfile'));

function lastStage(instructions: Instruction[]): Instruction[] {
  const start = instructions.map((i) => i.keyword).lastIndexOf('FROM');
  return instructions.slice(start);
}

/** The exec-form command of `HEALTHCHECK [options] CMD [...]`. */
function dockerHealthcheck(instructions: Instruction[]): string[] {
  const healthcheck = instructions.find((i) => i.keyword === 'HEALTHCHECK');
  const json = healthcheck?.args.match(/\bCMD\s+(\[.*\])\s*$/)?.[1];
  if (json === undefined) throw new Error('Dockerfile: HEALTHCHECK must use exec form: CMD ["node", "-e", "..."]');
  return JSON.parse(json) as string[];
}

/**
 * Runs a `node -e <script>` health check the way Docker would, with extra env;
 * resolves to its exit code. Asynchronous: the server under test shares this event loop.
 */
function runNodeCheck(command: string[], env: Record<string, string> = {}): Promise<number | null> {
  const [program, ...args] = command;
  expect(program).toBe('node');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: 'ignore', timeout: 15_000 });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

// ---- .github/workflows/ci.yml -----------------------------------------------

interface WorkflowStep {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string | number | boolean>;
}

interface Workflow {
  on: string | string[] | Record<string, unknown>;
  env?: Record<string, string>;
  jobs: Record<
    string,
    { 'runs-on': string; strategy?: { matrix?: Record<string, (string | number)[]> }; env?: Record<string, string | number>; steps: WorkflowStep[] }
  >;
}

const WORKFLOW = parse(read('.github/workflows/ci.yml')) as Workflow;

// ---- the tests ----------------------------------------------------------------

describe('src/config.ts envSchema (as read for these checks)', () => {
  it('yields the known variables with their defaults', () => {
    expect(SCHEMA_VARS.length).toBeGreaterThanOrEqual(20);
    expect(SCHEMA.get('NODE_ENV')).toBe('development');
    expect(SCHEMA.get('PORT')).toBe('4000');
    expect(SCHEMA.get('TRUST_PROXY')).toBe('false');
    expect(SCHEMA.get('ARGON2_MEMORY_KIB')).toBe('19456');
    expect(SCHEMA.has('VAULT_MASTER_KEYS')).toBe(true);
    expect(SCHEMA.get('VAULT_MASTER_KEYS')).toBeUndefined();
  });
});

describe('.env.template', () => {
  it('assigns every variable of the envSchema, and nothing else', () => {
    const assigned = [...TEMPLATE.vars.keys()];
    expect(SCHEMA_VARS.filter((name) => !TEMPLATE.vars.has(name)), 'config variables missing from .env.template').toEqual([]);
    expect(assigned.filter((name) => !SCHEMA.has(name)), '.env.template variables Coffer does not read').toEqual([]);
  });

  it('documents each variable: what it does, its default as in src/config.ts, and whether production requires it', () => {
    const required = new Set(requiredInProduction());
    expect([...required].sort()).toEqual(['JWT_PRIVATE_KEY', 'MONGODB_URI', 'VAULT_ACTIVE_MASTER_KEY', 'VAULT_MASTER_KEYS']);
    for (const name of SCHEMA_VARS) {
      const comment = TEMPLATE.vars.get(name)!.comment;
      const text = comment.join('\n');
      const defaultLines = comment.filter((line) => line.includes('Default:'));
      expect(defaultLines, `${name}: exactly one "Default:" line`).toHaveLength(1);
      const describes = comment.filter((line) => !line.includes('Default:') && line.trim() !== '');
      expect(describes.length, `${name}: a comment line saying what it does`).toBeGreaterThan(0);

      const schemaDefault = SCHEMA.get(name);
      const documented = /Default: (?:`([^`]*)`|(none))/.exec(defaultLines[0]!);
      expect(documented, `${name}: "Default: \`value\`" or "Default: none"`).not.toBeNull();
      expect(documented![2] === 'none' ? undefined : documented![1], `${name}: documented default`).toBe(
        schemaDefault === '' ? undefined : schemaDefault,
      );

      if (required.has(name)) expect(text, name).toMatch(/Required in production/);
      else expect(text, name).toMatch(/Optional\./);
    }
  });

  it('leaves every secret empty', () => {
    for (const name of ['VAULT_MASTER_KEYS', 'JWT_PRIVATE_KEY', 'MONGODB_URI']) {
      expect(TEMPLATE.vars.get(name)?.value, name).toBe('');
    }
    expect(TEMPLATE_TEXT).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    expect(TEMPLATE_TEXT).not.toMatch(/[A-Za-z0-9_-]+:[A-Za-z0-9+/]{43}=/); // an id:<32-byte base64> master key
  });

  it('shows how to generate the keys', () => {
    expect(TEMPLATE_TEXT).toContain('openssl rand -base64 32');
    expect(TEMPLATE_TEXT).toContain('openssl genpkey -algorithm ed25519');
  });

  it('mentions the mongodb-memory-server variables, commented out', () => {
    for (const name of ['MONGOMS_SYSTEM_BINARY', 'MONGOMS_VERSION', 'MONGOMS_DOWNLOAD_URL', 'MONGOMS_DOWNLOAD_MIRROR']) {
      expect(TEMPLATE.commentedOut.has(name), name).toBe(true);
      expect(TEMPLATE.vars.has(name), name).toBe(false);
    }
  });

  it('loads in production once generated keys and a MONGODB_URI are added', () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'coffer-template-'));
    try {
      const env = {
        ...templateEnv(),
        ...generatedSecrets(),
        NODE_ENV: 'production',
        MONGODB_URI: 'mongodb://mongo:27017/coffer?replicaSet=rs0',
      };
      const config = loadConfig(env, { cwd, warn: () => {} });
      expect(config.nodeEnv).toBe('production');
      expect(config.vault.activeMasterKeyId).toBe('k1');
      expect(config.jwt.privateKey.asymmetricKeyType).toBe('ed25519');
      expect(config.sandboxEnabled).toBe(false);
      expect(readdirSync(cwd), 'no development keys written').toEqual([]);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('as-is, refuses production and names every missing setting at once', () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'coffer-template-'));
    try {
      const error = configError(() => loadConfig({ ...templateEnv(), NODE_ENV: 'production' }, { cwd, warn: () => {} }));
      const named = error.problems.map((problem) => problem.split(':')[0]);
      expect(named).toEqual(expect.arrayContaining(['MONGODB_URI', 'VAULT_MASTER_KEYS', 'VAULT_ACTIVE_MASTER_KEY', 'JWT_PRIVATE_KEY']));
      expect(existsSync(path.join(cwd, '.data')), 'no development keys written').toBe(false);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('docker-compose.yml', () => {
  const mongo = COMPOSE.services.mongo!;
  const api = COMPOSE.services.api!;

  it('runs mongo as a single-node replica set on a named volume', () => {
    expect(mongo.image).toMatch(/^mongo:/);
    const command = Array.isArray(mongo.command) ? mongo.command.join(' ') : (mongo.command ?? '');
    expect(command).toMatch(/--replSet[ =]rs0/);
    expect(command).toContain('--bind_ip_all');
    const dataVolume = (mongo.volumes ?? [])
      .map((volume) => (typeof volume === 'string' ? { source: volume.split(':')[0], target: volume.split(':')[1] } : volume))
      .find((volume) => volume.target === '/data/db');
    expect(dataVolume?.source, 'a volume for /data/db').toBeDefined();
    expect(Object.keys(COMPOSE.volumes ?? {}), 'declared as a named volume').toContain(dataVolume!.source);
  });

  it('initiates the replica set idempotently from the mongo healthcheck', () => {
    const command = healthcheckCommand(mongo);
    expect(command[0]).toMatch(/^CMD/);
    const script = command.join(' ');
    expect(script).toContain('mongosh');
    expect(script).toContain('rs.status()');
    expect(script).toContain('rs.initiate(');
    expect(script).toContain('mongo:27017');
    expect(script).toContain("_id: 'rs0'");
    const evaluated = command[command.indexOf('--eval') + 1];
    expect(() => new Script(evaluated ?? ''), 'the --eval script parses as JavaScript').not.toThrow();
    expect(evaluated).toMatch(/quit\(1\)/); // unhealthy until this node is primary
  });

  it('points api at that replica set: one set name and one member address in --replSet, rs.initiate and MONGODB_URI (README "Scaling")', () => {
    const command = Array.isArray(mongo.command) ? mongo.command.join(' ') : (mongo.command ?? '');
    const setName = /--replSet[ =](\S+)/.exec(command)![1];
    const script = healthcheckCommand(mongo).join(' ');
    const initiated = /rs\.initiate\(\{ _id: '([^']+)', members: \[\{ _id: 0, host: '([^']+)' \}\] \}\)/.exec(script);
    expect(initiated, 'rs.initiate with one member').not.toBeNull();
    expect(initiated![1]).toBe(setName);
    const uri = /^\$\{MONGODB_URI:-(.+)\}$/.exec(String(environmentOf(api).MONGODB_URI))![1]!;
    const parsed = new URL(uri);
    expect(parsed.searchParams.get('replicaSet')).toBe(setName);
    expect(parsed.host).toBe(initiated![2]);
    expect(Object.keys(COMPOSE.services)).toContain(parsed.hostname);
  });

  it('builds api from the Dockerfile and starts it once mongo is healthy', () => {
    const build = typeof api.build === 'string' ? { context: api.build } : api.build;
    expect(build?.context).toBe('.');
    expect(build?.dockerfile ?? 'Dockerfile').toBe('Dockerfile');
    expect(api.depends_on).toEqual({ mongo: { condition: 'service_healthy' } });
    expect(api.ports).toContain('${PORT:-4000}:4000');
    expect(api.restart).toBe('unless-stopped');
    expect(mongo.restart).toBe('unless-stopped');
    expect(healthcheckCommand(api).join(' ')).toContain('/healthz');
  });

  it('passes api only variables Coffer reads, and every one but DATA_DIR', () => {
    const env = environmentOf(api);
    expect(Object.keys(env).filter((name) => !SCHEMA.has(name))).toEqual([]);
    const notPassed = SCHEMA_VARS.filter((name) => !(name in env));
    expect(notPassed, 'config variables docker-compose.yml does not pass to api').toEqual(['DATA_DIR']);
    expect(env.NODE_ENV).toBe('production');
    expect(env.HOST).toBe('0.0.0.0');
    expect(env.PORT).toBe('4000');
    expect(env.MONGODB_URI).toBe('${MONGODB_URI:-mongodb://mongo:27017/coffer?replicaSet=rs0}');
  });

  it('refuses to start without the secrets production requires', () => {
    const env = environmentOf(api);
    for (const name of requiredInProduction()) {
      if (name === 'MONGODB_URI') continue; // defaults to the mongo service
      expect(env[name], name).toMatch(new RegExp(`^\\$\\{${name}:\\?.+\\}$`));
    }
  });

  it('runs Prometheus only in the monitoring profile, scraping the api metrics listener the README describes, loopback-only UI', () => {
    const prometheus = COMPOSE.services.prometheus!;
    expect(prometheus.profiles).toEqual(['monitoring']);
    expect(Object.entries(COMPOSE.services).filter(([, service]) => service.profiles).map(([name]) => name)).toEqual(['prometheus']);
    const command = Array.isArray(prometheus.command) ? prometheus.command : [];
    const configPath = command.find((arg) => arg.startsWith('--config.file='))!.split('=')[1]!;
    const mounts = (prometheus.volumes ?? []).flatMap((volume) => (typeof volume === 'string' ? [volume.split(':')] : []));
    // The config and the rules it names are mounted side by side, read-only, from deploy/prometheus.
    const config = parse(read('deploy/prometheus/prometheus.yml')) as { rule_files: string[]; scrape_configs: { static_configs: { targets: string[] }[] }[] };
    expect(mounts).toContainEqual(['./deploy/prometheus/prometheus.yml', configPath, 'ro']);
    for (const rules of config.rule_files) expect(mounts).toContainEqual([`./deploy/prometheus/${rules}`, path.posix.join(path.posix.dirname(configPath), rules), 'ro']);
    const data = mounts.find(([, target]) => target === '/prometheus');
    expect(Object.keys(COMPOSE.volumes ?? {})).toContain(data?.[0]);
    // The target is the api service's own metrics listener: METRICS_PORT=9464 as the compose comment and README say.
    const targets = config.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
    expect(targets).toEqual(['api:9464']);
    expect(read('docker-compose.yml')).toContain('METRICS_PORT=9464 and METRICS_HOST=0.0.0.0');
    expect(read('README.md')).toContain('docker compose --profile monitoring up -d');
    // Nothing published beyond loopback, and api never publishes its metrics port.
    expect(prometheus.ports).toEqual(['127.0.0.1:9090:9090']);
    expect((api.ports ?? []).map(String).some((port) => port.includes('9464'))).toBe(false);
  });

  it('references only variables that .env.template documents', () => {
    const names = [...interpolatedNames(COMPOSE)];
    expect(names).toEqual(expect.arrayContaining(['PORT', 'MONGODB_URI', 'VAULT_MASTER_KEYS', 'JWT_PRIVATE_KEY']));
    expect(names.filter((name) => !TEMPLATE.vars.has(name))).toEqual([]);
  });
});

describe('Dockerfile', () => {
  const runtime = lastStage(DOCKERFILE);
  const args = (keyword: string, stage = runtime) => stage.filter((i) => i.keyword === keyword).map((i) => i.args);

  it('builds in one stage and runs from another', () => {
    const stages = DOCKERFILE.filter((i) => i.keyword === 'FROM');
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = DOCKERFILE.slice(0, DOCKERFILE.indexOf(runtime[0]!));
    expect(args('RUN', build).join('\n')).toMatch(/npm ci\b/);
    expect(args('RUN', build).join('\n')).toContain('npm run build');
    // Every script file `npm run build` runs is copied into the build stage before it.
    const copied = args('COPY', build).join('\n');
    const buildScript = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.build!;
    for (const script of buildScript.match(/scripts\/[\w.-]+/g) ?? []) expect(copied, script).toContain(script);
    // ... and none of the build stage's COPY sources is left out of the context by .dockerignore
    // (docker's rule: the last matching line wins, `!` takes a path back in).
    const rules = read('.dockerignore').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
    const ignored = (file: string) =>
      rules.reduce((out, rule) => {
        const negated = rule.startsWith('!');
        const pattern = negated ? rule.slice(1) : rule;
        const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/.*)?$`);
        return re.test(file) ? !negated : out;
      }, false);
    const sources = args('COPY', build).flatMap((line) => line.split(/\s+/).filter((word) => !word.startsWith('--')).slice(0, -1));
    expect(sources.filter((source) => ignored(source.replace(/^\.\//, '')))).toEqual([]);
    expect(args('RUN').join('\n')).toMatch(/npm ci\b.*--omit=dev/);
    expect(args('COPY').join('\n')).toMatch(/--from=\S+ \S*dist/);
  });

  it('runs the compiled server as a non-root user in production mode', () => {
    const users = args('USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    const env = args('ENV').join(' ');
    expect(env).toMatch(/NODE_ENV=production/);
    expect(env).toMatch(/HOST=0\.0\.0\.0/);
    expect(args('EXPOSE')).toContain('4000');
    expect(JSON.parse(args('CMD').at(-1)!)).toEqual(['node', 'dist/main.js']);
  });

  it('checks health with node against /healthz', () => {
    const command = dockerHealthcheck(runtime);
    expect(command.slice(0, 2)).toEqual(['node', '-e']);
    expect(command[2]).toContain('/healthz');
    expect(() => new Script(command[2]!)).not.toThrow();
  });

  it('keeps local state and secrets out of the build context', () => {
    const ignored = read('.dockerignore').split(/\r?\n/).map((line) => line.trim());
    for (const entry of ['node_modules', '.env', '.data', '.cache', '.git', 'dist']) expect(ignored, entry).toContain(entry);
    for (const needed of ['src', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      expect(ignored, needed).not.toContain(needed);
    }
  });
});

describe('health checks against a running server', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => server?.close());

  const port = () => new URL(server.url).port;

  it("the Dockerfile's HEALTHCHECK passes on a live server and fails without one", async () => {
    const command = dockerHealthcheck(lastStage(DOCKERFILE));
    expect(await runNodeCheck(command, { PORT: port() })).toBe(0);
    expect(await runNodeCheck(command, { PORT: '1' })).toBe(1);
  });

  it("docker-compose.yml's api healthcheck passes on a live server", async () => {
    const [kind, ...command] = healthcheckCommand(COMPOSE.services.api!);
    expect(kind).toBe('CMD');
    const onTestPort = command.map((arg) => arg.replace('127.0.0.1:4000', `127.0.0.1:${port()}`));
    expect(onTestPort).not.toEqual(command);
    expect(await runNodeCheck(onTestPort)).toBe(0);
  });
});

describe('Node.js versions: package.json engines, the Docker image and CI agree', () => {
  const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; scripts: Record<string, string> };
  const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { engines?: { node?: string } | string[] }> };
  const imageArg = DOCKERFILE.find((i) => i.keyword === 'ARG' && i.args.startsWith('NODE_IMAGE='))!;
  const image = imageArg.args.slice('NODE_IMAGE='.length);
  const imageMajor = Number(/^node:(\d+)(?:[.-]|$)/.exec(image)?.[1]);
  const job = Object.values(WORKFLOW.jobs)[0]!;
  const matrix = (job.strategy?.matrix?.['node-version'] ?? []).map(String);
  const minimum = semver.minVersion(pkg.engines.node)!.version;

  it('engines allows Node 20.19+ (our machines) and the Docker image\'s Node', () => {
    expect(semver.satisfies('20.19.0', pkg.engines.node)).toBe(true);
    expect(semver.satisfies('20.18.3', pkg.engines.node)).toBe(false);
    expect(imageMajor, image).toBeGreaterThanOrEqual(24); // the current LTS; Node 20 is end of life
    expect(semver.satisfies(`${imageMajor}.0.0`, pkg.engines.node)).toBe(true);
    expect(semver.satisfies(process.version, pkg.engines.node), `this test run's Node ${process.version}`).toBe(true);
  });

  it('every stage of the image builds and runs on that one Node image (slim Debian)', () => {
    const froms = DOCKERFILE.filter((i) => i.keyword === 'FROM').map((i) => i.args.split(/\s+/)[0]);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(from).toBe('${NODE_IMAGE}');
    expect(image).toMatch(/^node:\d+-bookworm-slim$/);
  });

  it('CI tests the engines minimum and the image\'s Node', () => {
    expect(matrix).toContain(`${semver.major(minimum)}.${semver.minor(minimum)}`);
    expect(matrix).toContain(String(imageMajor));
  });

  it('no locked dependency declares an engines range without both, except known feature-detecting ones', () => {
    // Declares node >=22.15 but only uses Promise.withResolvers when present; every test exercises it on Node 20.
    const known = new Set(['node_modules/@whatwg-node/promise-helpers']);
    const refusing = Object.entries(lock.packages)
      .filter(([name, entry]) => name !== '' && !Array.isArray(entry.engines) && typeof entry.engines?.node === 'string')
      .filter(([, entry]) => {
        const range = (entry.engines as { node: string }).node;
        return !semver.satisfies(minimum, range) || !semver.satisfies(`${imageMajor}.0.0`, range);
      })
      .map(([name]) => name)
      .filter((name) => !known.has(name));
    expect(refusing).toEqual([]);
  });

  it('start:prod, the image and the CLI run the compiled entry points, which read .env first', () => {
    expect(pkg.scripts['start:prod']).toBe('node dist/main.js');
    expect(JSON.parse(DOCKERFILE.filter((i) => i.keyword === 'CMD').at(-1)!.args)).toEqual(['node', 'dist/main.js']);
    // (test/platform/startup.test.ts and test/platform/cli.test.ts run both entry points on a .env)
    const main = read('src/main.ts');
    expect(main.indexOf('loadDotEnvFile()')).toBeGreaterThan(0);
    expect(main.indexOf('loadDotEnvFile()')).toBeLessThan(main.indexOf('loadConfig(process.env'));
    expect(read('src/cli/index.ts')).toContain('loadDotEnvFile()');
  });
});

describe('.github/workflows/ci.yml', () => {
  const job = Object.values(WORKFLOW.jobs)[0]!;
  const runs = job.steps.map((step) => step.run ?? '');
  const uses = job.steps.map((step) => step.uses ?? '');

  it('runs on pushes and pull requests on ubuntu-latest', () => {
    const events = typeof WORKFLOW.on === 'string' ? [WORKFLOW.on] : Array.isArray(WORKFLOW.on) ? WORKFLOW.on : Object.keys(WORKFLOW.on);
    expect(events).toEqual(expect.arrayContaining(['push', 'pull_request']));
    expect(job['runs-on']).toBe('ubuntu-latest');
  });

  it('sets up Node (each version of the matrix) with the npm cache, then runs npm ci and npm test', () => {
    expect(uses).toContain('actions/checkout@v4');
    const node = job.steps.find((step) => step.uses === 'actions/setup-node@v4');
    expect(String(node?.with?.['node-version'])).toBe('${{ matrix.node-version }}');
    expect(node?.with?.cache).toBe('npm');
    const install = runs.findIndex((run) => /^npm ci\b/m.test(run));
    const test = runs.findIndex((run) => /^npm test\b/m.test(run));
    expect(install).toBeGreaterThanOrEqual(0);
    expect(test).toBeGreaterThan(install);
  });

  it('tests against a real mongod from mongodb-memory-server, cached between runs', () => {
    const env = { ...WORKFLOW.env, ...job.env };
    expect(env.MONGOMS_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    expect(env).not.toHaveProperty('MONGODB_URI');
    const cache = job.steps.find((step) => step.uses?.startsWith('actions/cache@'));
    expect(cache?.with?.path).toBe('~/.cache/mongodb-binaries');
    expect(String(cache?.with?.key)).toContain('MONGOMS_VERSION');
    expect(uses.filter((use) => use.startsWith('actions/setup-go'))).toEqual([]);
  });
});
