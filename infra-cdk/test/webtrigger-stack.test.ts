// Assertions on the synthesized template: what the platform relies on, and least privilege.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { WebTriggerStack } from '../lib/webtrigger-stack.ts';

const app = new App({ context: { skipSiteDeployment: true, lambdaAssetRoot: '/nonexistent', allowPlaceholders: true } });
const stack = new WebTriggerStack(app, 'Test');
const template = Template.fromStack(stack);
const reservedTemplate = Template.fromStack(new WebTriggerStack(new App({ context: { skipSiteDeployment: true, lambdaAssetRoot: '/nonexistent', allowPlaceholders: true, reservedConcurrency: true } }), 'Reserved'));
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: any }>;

const here = path.dirname(fileURLToPath(import.meta.url));
/** Every bootstrap the Rust side builds (functions/lambda/src/bin/<function>.rs): the stack must deploy each. */
const crates = fs.readdirSync(path.resolve(here, '../../functions/lambda/src/bin')).filter((f) => f.endsWith('.rs')).map((f) => f.slice(0, -3)).sort();
/** An asset root holding `bytes` as every function's bootstrap. */
const everyBootstrap = (bytes: Buffer) => Object.fromEntries(crates.map((c) => [c, bytes]));

/** The Lambda of a crate: construct ids are the crate name in PascalCase (`api-health` → `ApiHealth…`). */
function functionNamed(crate: string): [string, any] {
  const prefix = crate.split('-').map((p) => p[0].toUpperCase() + p.slice(1)).join('');
  const id = Object.keys(resources).find((k) => resources[k].Type === 'AWS::Lambda::Function' && k.startsWith(prefix));
  assert.ok(id, `no function for ${crate}`);
  return [id, resources[id]];
}

function policiesOf(functionId: string): any[] {
  const roleRef = resources[functionId].Properties.Role['Fn::GetAtt'][0];
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((role: any) => role.Ref === roleRef))
    .flatMap((r) => r.Properties.PolicyDocument.Statement);
}

const actionsOf = (statements: any[]) => statements.flatMap((s) => [s.Action].flat());

test('table: keys, gsi1, TTL, point-in-time recovery, on-demand, retained', () => {
  template.hasResource('AWS::DynamoDB::GlobalTable', {
    DeletionPolicy: 'Retain',
    Properties: Match.objectLike({
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'gsi1', KeySchema: [{ AttributeName: 'gsi1pk', KeyType: 'HASH' }, { AttributeName: 'gsi1sk', KeyType: 'RANGE' }] })],
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }, DeletionProtectionEnabled: true })],
    }),
  });
});

test('KMS key rotates', () => {
  template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/webtrigger' });
});

test('echo queue redrives to its DLQ, with an alarm on DLQ depth', () => {
  template.hasResourceProperties('AWS::SQS::Queue', {
    RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
    VisibilityTimeout: 60,
  });
  template.hasResourceProperties('AWS::CloudWatch::Alarm', {
    MetricName: 'ApproximateNumberOfMessagesVisible',
    ComparisonOperator: 'GreaterThanThreshold',
    Threshold: 0,
  });
});

test('every function: provided.al2023, arm64, bootstrap, the env contract', () => {
  for (const crate of crates) {
    const [, fn] = functionNamed(crate);
    assert.equal(fn.Properties.Runtime, 'provided.al2023', crate);
    assert.deepEqual(fn.Properties.Architectures, ['arm64'], crate);
    assert.equal(fn.Properties.Handler, 'bootstrap', crate);
    const env = fn.Properties.Environment.Variables;
    for (const v of ['WEBTRIGGER_TABLE', 'WEBTRIGGER_KMS_KEY_ID', 'WEBTRIGGER_SECRETS_PREFIX', 'RUST_LOG']) assert.ok(env[v], `${crate} lacks ${v}`);
    assert.equal(env.WEBTRIGGER_BACKEND, 'aws');
  }
  const [, worker] = functionNamed('worker-echo');
  assert.ok(worker.Properties.Environment.Variables.WEBTRIGGER_QUEUE_URL_ECHO);
  assert.ok(worker.Properties.Environment.Variables.WEBTRIGGER_QUEUE_URL_ECHO_DLQ, 'permanent failures are copied to the DLQ');
});

test('workers read SQS with partial batch failures', () => {
  const mappings = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
  assert.equal(mappings.length, 7);
  for (const m of mappings) assert.deepEqual(m.Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
});

test('KMS use is limited by encryption context: each kind of secret to its functions', () => {
  const kmsStatements = Object.keys(resources)
    .filter((id) => resources[id].Type === 'AWS::Lambda::Function')
    .flatMap((id) => policiesOf(id).map((st) => ({ id, st })))
    .filter(({ st }) => [st.Action].flat().some((a: string) => a.startsWith('kms:')));
  const byFunction = kmsStatements.map(({ id, st }) => `${id.replace(/[0-9A-F]{8}$/, '')}:${[st.Action].flat().join(',')}`).sort();
  assert.deepEqual(byFunction, [
    'ApiCredentials:kms:GenerateDataKey,kms:Decrypt', 'ApiSites:kms:GenerateDataKey', 'ApiTriggers:kms:GenerateDataKey', 'ApiTriggers:kms:GenerateDataKey,kms:Decrypt',
    'HookMeta:kms:Decrypt', 'HookTrigger:kms:Decrypt', 'HookTwilio:kms:Decrypt', 'WorkerEventsOut:kms:Decrypt', 'WorkerPushSend:kms:Decrypt', 'WorkerWhatsappSend:kms:Decrypt',
  ]);
  for (const { id, st } of kmsStatements) {
    const actions = [st.Action].flat().join(',');
    const purpose = /ApiSites|WorkerPushSend/.test(id) ? 'vapid'
      : /WorkerEventsOut/.test(id) || (/ApiTriggers/.test(id) && actions === 'kms:GenerateDataKey') ? 'event-webhook-secret'
      : /Trigger/.test(id) ? 'trigger-secret' : 'provider-credential';
    assert.deepEqual(st.Condition, { StringEquals: { 'kms:EncryptionContext:purpose': purpose } }, id);
  }
});

test('minute rule targets cron-tick', () => {
  const [tickId] = functionNamed('cron-tick');
  template.hasResourceProperties('AWS::Events::Rule', {
    ScheduleExpression: 'rate(1 minute)',
    Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [tickId, 'Arn'] } })],
  });
});

test('HTTP API routes each group to its function', () => {
  const routes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route').map((r) => r.Properties.RouteKey).sort();
  for (const key of ['GET /v1/health', 'GET /v1/openapi.json', 'ANY /v1/auth/{proxy+}', 'ANY /v1/me', 'ANY /v1/workspaces', 'ANY /v1/workspaces/{proxy+}', 'ANY /v1/invites/{proxy+}', 'ANY /v1/workspaces/{ws}/sites/{proxy+}', 'ANY /v1/public/{proxy+}', 'ANY /v1/workspaces/{ws}/credentials/{proxy+}', 'ANY /v1/workspaces/{ws}/channels', 'ANY /v1/workspaces/{ws}/messages', 'ANY /v1/workspaces/{ws}/conversations/{proxy+}', 'GET /hooks/meta/{proxy+}', 'POST /hooks/meta/{proxy+}', 'POST /hooks/twilio/{proxy+}', 'POST /hooks/whapi/{proxy+}', 'ANY /v1/workspaces/{ws}/triggers', 'ANY /v1/workspaces/{ws}/triggers/{proxy+}', 'ANY /v1/workspaces/{ws}/event-endpoints/{proxy+}', 'POST /t/{trigger}']) {
    assert.ok(routes.includes(key), `missing route ${key}: ${routes.join(', ')}`);
  }
});

test('dashboard: private bucket behind CloudFront OAC, /v1/* to the API uncached', () => {
  template.hasResourceProperties('AWS::S3::Bucket', {
    PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
  });
  template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
  const dist = Object.values(resources).find((r) => r.Type === 'AWS::CloudFront::Distribution')!.Properties.DistributionConfig;
  const api = dist.CacheBehaviors.find((b: any) => b.PathPattern === '/v1/*');
  assert.ok(api, 'no /v1/* behavior');
  assert.equal(api.CachePolicyId, '4135ea2d-6df8-44a3-9df3-4b5a84be39ad', '/v1/* must use CachingDisabled');
  assert.deepEqual(api.AllowedMethods.sort(), ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT']);
  assert.ok(dist.CacheBehaviors.some((b: any) => b.PathPattern === '/sw.js'), 'the service worker is not cached');
  assert.equal(dist.DefaultRootObject, 'index.html');
});

test('least privilege: api-health reads one table item and writes nothing', () => {
  const [id] = functionNamed('api-health');
  const actions = actionsOf(policiesOf(id));
  assert.deepEqual(actions, ['dynamodb:GetItem']);
});

test('least privilege: no dynamodb/sqs/kms/secrets action on Resource "*"', () => {
  for (const policy of Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Policy')) {
    for (const st of policy.Properties.PolicyDocument.Statement) {
      const actions = [st.Action].flat().join(' ');
      const wildcard = [st.Resource].flat().some((r: any) => r === '*');
      assert.ok(!(wildcard && /dynamodb:|sqs:|kms:|secretsmanager:/.test(actions)), `wildcard resource for ${actions}`);
    }
  }
});

test('the dashboard VAPID secret: api-auth serves its key; the webhook worker notifies assignees with it (api-inbox queues replays to it)', () => {
  const secretId = Object.keys(resources).find((k) => resources[k].Type === 'AWS::SecretsManager::Secret' && resources[k].Properties.Name === 'webtrigger/dashboard-vapid-key');
  assert.ok(secretId, 'dashboard VAPID secret exists');
  const readers = Object.keys(resources).filter(
    (id) => resources[id].Type === 'AWS::Lambda::Function' && policiesOf(id).some((st) => [st.Resource].flat().some((r: any) => r?.Ref === secretId)),
  );
  assert.deepEqual(readers.map((id) => id.replace(/[0-9A-F]{8}$/, '')).sort(), ['ApiAuth', 'ApiTriggers', 'HookTrigger', 'WorkerWebhookProcess']);
});

test('only the authenticated route groups can read the token signing secrets', () => {
  const signing = Object.keys(resources).filter((k) => resources[k].Type === 'AWS::SecretsManager::Secret' && /token-signing-key/.test(resources[k].Properties.Name));
  assert.equal(signing.length, 2);
  const readers = Object.keys(resources).filter(
    (id) => resources[id].Type === 'AWS::Lambda::Function' && policiesOf(id).some((st) => [st.Resource].flat().some((r: any) => signing.includes(r?.Ref))),
  );
  assert.deepEqual(readers.map((id) => id.replace(/[0-9A-F]{8}$/, '')).sort(), ['ApiAuth', 'ApiCampaigns', 'ApiCredentials', 'ApiFeeds', 'ApiFlows', 'ApiInbox', 'ApiMessages', 'ApiSites', 'ApiTriggers', 'ApiWorkspaces']);
});

test('the WhatsApp sender: its queue redrives to a DLQ; the tick may re-queue both senders', () => {
  const [, sender] = functionNamed('worker-whatsapp-send');
  const env = sender.Properties.Environment.Variables;
  assert.ok(env.WEBTRIGGER_QUEUE_URL_WHATSAPP_SEND && env.WEBTRIGGER_QUEUE_URL_WHATSAPP_SEND_DLQ);
  const [tickId, tick] = functionNamed('cron-tick');
  for (const v of ['WEBTRIGGER_QUEUE_URL_PUSH_SEND', 'WEBTRIGGER_QUEUE_URL_WHATSAPP_SEND']) assert.ok(tick.Properties.Environment.Variables[v], `cron-tick lacks ${v}`);
  assert.ok(actionsOf(policiesOf(tickId)).includes('sqs:SendMessage'));
  const [senderId] = functionNamed('worker-whatsapp-send');
  assert.ok(!actionsOf(policiesOf(senderId)).some((a: string) => a.startsWith('secretsmanager:')), 'the sender needs no platform secrets');
});

test('triggers and event webhooks: the events-out queue redrives to a DLQ, the tick refills retries, /t/* reaches the API', () => {
  const [senderId, sender] = functionNamed('worker-events-out');
  const env = sender.Properties.Environment.Variables;
  assert.ok(env.WEBTRIGGER_QUEUE_URL_EVENTS_OUT && env.WEBTRIGGER_QUEUE_URL_EVENTS_OUT_DLQ);
  assert.ok(!actionsOf(policiesOf(senderId)).some((a: string) => a.startsWith('secretsmanager:')), 'the sender needs no platform secrets');
  for (const crate of ['cron-tick', 'hook-trigger', 'api-triggers', 'worker-webhook-process', 'api-subscribers']) {
    const [, f] = functionNamed(crate);
    assert.ok(f.Properties.Environment.Variables.WEBTRIGGER_QUEUE_URL_EVENTS_OUT, `${crate} cannot emit events`);
  }
  const [hookId] = functionNamed('hook-trigger');
  const hookActions = actionsOf(policiesOf(hookId));
  assert.ok(!hookActions.includes('kms:GenerateDataKey'), 'the public receiver only opens secrets');
  const dist = Object.values(resources).find((r) => r.Type === 'AWS::CloudFront::Distribution')!.Properties.DistributionConfig;
  for (const pattern of ['/t/*', '/hooks/*']) {
    const b = dist.CacheBehaviors.find((x: any) => x.PathPattern === pattern);
    assert.ok(b, `no ${pattern} behavior`);
    assert.equal(b.CachePolicyId, '4135ea2d-6df8-44a3-9df3-4b5a84be39ad', `${pattern} must not be cached`);
  }
});

// ---- Bootstraps: synth refuses what would deploy as a broken function ----


test('the function table is read from the Rust source', () => {
  assert.ok(crates.length >= 20 && crates.includes('api-health') && crates.includes('cron-tick'), crates.join(', '));
});

/** An ELF header (64-bit, little-endian) for `machine`, padded like a real binary's first bytes. */
function elf(machine: number): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2; // ELFCLASS64
  b[5] = 1; // little-endian
  b[6] = 1;
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(machine, 18);
  return b;
}

function assetRootWith(bootstraps: Record<string, Buffer | undefined>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wt-assets-'));
  for (const [crate, bytes] of Object.entries(bootstraps)) {
    if (!bytes) continue;
    fs.mkdirSync(path.join(root, crate));
    fs.writeFileSync(path.join(root, crate, 'bootstrap'), bytes, { mode: 0o755 });
  }
  return root;
}

function synth(context: Record<string, unknown>): () => Template {
  return () => Template.fromStack(new WebTriggerStack(new App({ context: { skipSiteDeployment: true, ...context } }), 'Synth'));
}

const AARCH64 = 0xb7;
const X86_64 = 0x3e;

test('synth fails when bootstraps are missing, naming every function', () => {
  const root = assetRootWith({});
  assert.throws(synth({ lambdaAssetRoot: root }), (e: Error) => {
    for (const crate of crates) assert.match(e.message, new RegExp(`${crate}: .*bootstrap is missing`), `${crate} not named`);
    return true;
  });
});

test('synth fails on an x86_64 bootstrap, or one that is not an ELF, naming every function', () => {
  const elf32 = elf(AARCH64);
  elf32[4] = 1;
  for (const [bytes, problem] of [[elf(X86_64), 'machine 0x3e, not aarch64'], [Buffer.from('#!/bin/sh\nexit 1\n'), 'not an ELF'], [elf32, 'not a 64-bit']] as const) {
    assert.throws(synth({ lambdaAssetRoot: assetRootWith(everyBootstrap(bytes)) }), (e: Error) => {
      for (const crate of crates) assert.match(e.message, new RegExp(`${crate}: .*${problem}`), `${crate} not named for ${problem}`);
      return true;
    });
  }
});

test('synth passes with aarch64 bootstraps: one Lambda per function, each on its own artifact', () => {
  const root = assetRootWith(Object.fromEntries(crates.map((c, i) => [c, Buffer.concat([elf(AARCH64), Buffer.from(c.padEnd(32 + i))])])));
  const t = synth({ lambdaAssetRoot: root })();
  const functions = Object.values(t.toJSON().Resources as Record<string, any>).filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Runtime === 'provided.al2023');
  assert.equal(functions.length, crates.length, 'one Lambda per function');
  assert.equal(new Set(functions.map((f) => JSON.stringify(f.Properties.Code))).size, crates.length, 'each its own artifact');
});

test('synth fails naming exactly the function whose bootstrap is missing', () => {
  const [missing, ...built] = crates;
  assert.throws(synth({ lambdaAssetRoot: assetRootWith(Object.fromEntries(built.map((c) => [c, elf(AARCH64)]))) }), (e: Error) => {
    assert.match(e.message, new RegExp(`${missing}: .*bootstrap is missing`));
    for (const crate of built) assert.doesNotMatch(e.message, new RegExp(`\\b${crate}: `), `${crate} is built`);
    return true;
  });
});

test('allowPlaceholders=true synthesizes without bootstraps (with a warning per function)', () => {
  const s = new WebTriggerStack(new App({ context: { skipSiteDeployment: true, lambdaAssetRoot: assetRootWith({}), allowPlaceholders: 'true' } }), 'Placeholders');
  const warnings = Annotations.fromStack(s).findWarning('*', Match.stringLikeRegexp('placeholder'));
  assert.equal(warnings.length, crates.length);
});

// ---- Operations ----

const alarms = () => Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');

test('every alarm notifies the alarm topic', () => {
  const topicId = Object.keys(resources).find((k) => resources[k].Type === 'AWS::SNS::Topic');
  assert.ok(topicId);
  assert.ok(alarms().length > 0);
  for (const [id, a] of alarms()) assert.deepEqual(a.Properties.AlarmActions, [{ Ref: topicId }], `${id} has no action`);
});

test('the alarm e-mail comes from a stack parameter and subscribes only when set', () => {
  const t = template.toJSON();
  assert.equal(t.Parameters.AlarmEmail.Default, '');
  const subs = Object.values(resources).filter((r: any) => r.Type === 'AWS::SNS::Subscription') as any[];
  assert.equal(subs.length, 1);
  assert.equal(subs[0].Properties.Protocol, 'email');
  assert.deepEqual(subs[0].Properties.Endpoint, { Ref: 'AlarmEmail' });
  assert.deepEqual(t.Conditions[subs[0].Condition], { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmEmail' }, ''] }] });
});

test('alarms: every DLQ depth, errors and throttles of every function, API 5xx, the heartbeat', () => {
  const watched = (metric: string, dimension: string) =>
    new Set(alarms().filter(([, a]) => a.Properties.MetricName === metric).flatMap(([, a]) => (a.Properties.Dimensions ?? []).filter((d: any) => d.Name === dimension).map((d: any) => JSON.stringify(d.Value))));
  const queues = Object.keys(resources).filter((k) => resources[k].Type === 'AWS::SQS::Queue');
  // Dead-letter queues are the queues that redrive nowhere themselves.
  const dlqs = queues.filter((q) => !resources[q].Properties.RedrivePolicy);
  const depth = watched('ApproximateNumberOfMessagesVisible', 'QueueName');
  for (const q of dlqs) assert.ok(depth.has(JSON.stringify({ 'Fn::GetAtt': [q, 'QueueName'] })), `no depth alarm on ${q}`);
  assert.equal(dlqs.length, 8, 'seven work-queue DLQs and the minute rule DLQ');
  const fns = Object.keys(resources).filter((k) => resources[k].Type === 'AWS::Lambda::Function' && resources[k].Properties.Runtime === 'provided.al2023');
  for (const metric of ['Errors', 'Throttles']) {
    const w = watched(metric, 'FunctionName');
    for (const f of fns) assert.ok(w.has(JSON.stringify({ Ref: f })), `no ${metric} alarm on ${f}`);
  }
  assert.ok(alarms().some(([, a]) => a.Properties.MetricName === '5xx' && a.Properties.Namespace === 'AWS/ApiGateway'));
  const [, hb] = alarms().find(([, a]) => a.Properties.MetricName === 'HeartbeatLagSeconds')!;
  assert.equal(hb.Properties.Namespace, 'WebTrigger');
  assert.equal(hb.Properties.TreatMissingData, 'breaching', 'no heartbeat at all must alarm');
});

test('the minute rule target has a DLQ', () => {
  const rule = Object.values(resources).find((r) => r.Type === 'AWS::Events::Rule')!;
  const dlq = rule.Properties.Targets[0].DeadLetterConfig?.Arn?.['Fn::GetAtt']?.[0];
  assert.ok(dlq && resources[dlq].Type === 'AWS::SQS::Queue');
});

test('contacts and broadcasts: their API, the campaigns queue with a DLQ and its worker, the tick starts scheduled ones', () => {
  const routes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route').map((r) => r.Properties.RouteKey);
  for (const key of ['ANY /v1/workspaces/{ws}/contacts', 'ANY /v1/workspaces/{ws}/contacts/{proxy+}', 'ANY /v1/workspaces/{ws}/audiences/{proxy+}', 'ANY /v1/workspaces/{ws}/broadcasts', 'ANY /v1/workspaces/{ws}/broadcasts/{proxy+}', 'ANY /v1/workspaces/{ws}/contacts/{phone}/consent']) {
    assert.ok(routes.includes(key), `missing route ${key}`);
  }
  const [workerId, worker] = functionNamed('worker-campaigns');
  const env = worker.Properties.Environment.Variables;
  assert.ok(env.WEBTRIGGER_QUEUE_URL_CAMPAIGNS && env.WEBTRIGGER_QUEUE_URL_WHATSAPP_SEND, 'the worker queues next pages and sends');
  const mapping = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::EventSourceMapping' && r.Properties.FunctionName.Ref === workerId);
  assert.ok(mapping, 'worker-campaigns consumes the campaigns queue');
  const queue = resources[mapping.Properties.EventSourceArn['Fn::GetAtt'][0]];
  assert.ok(queue.Properties.RedrivePolicy?.maxReceiveCount === 5, 'the campaigns queue redrives to a DLQ');
  assert.ok(!actionsOf(policiesOf(workerId)).some((a: string) => a.startsWith('secretsmanager:') || a.startsWith('kms:')), 'the fan-out needs no secrets');
  for (const crate of ['api-campaigns', 'cron-tick']) {
    const [id, f] = functionNamed(crate);
    assert.ok(f.Properties.Environment.Variables.WEBTRIGGER_QUEUE_URL_CAMPAIGNS, `${crate} cannot queue campaign jobs`);
    assert.ok(actionsOf(policiesOf(id)).includes('sqs:SendMessage'), `${crate} cannot send to the campaigns queue`);
  }
});

test('feeds: the tick queues polls on the feeds queue with a DLQ, worker-feeds consumes it and queues fan-out', () => {
  const [workerId, worker] = functionNamed('worker-feeds');
  const env = worker.Properties.Environment.Variables;
  assert.ok(env.WEBTRIGGER_QUEUE_URL_FEEDS && env.WEBTRIGGER_QUEUE_URL_PUSH_SEND, 'the worker reads feed jobs and queues push fan-out');
  const mapping = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::EventSourceMapping' && r.Properties.FunctionName.Ref === workerId);
  assert.ok(mapping, 'worker-feeds consumes the feeds queue');
  const queue = resources[mapping.Properties.EventSourceArn['Fn::GetAtt'][0]];
  assert.ok(queue.Properties.RedrivePolicy?.maxReceiveCount === 5, 'the feeds queue redrives to a DLQ');
  assert.ok(!actionsOf(policiesOf(workerId)).some((a: string) => a.startsWith('secretsmanager:') || a.startsWith('kms:')), 'polling needs no secrets');
  const [feedsId, feeds] = functionNamed('api-feeds');
  assert.ok(feeds.Properties.Environment.Variables.WEBTRIGGER_QUEUE_URL_PUSH_SEND, 'poll-now queues push fan-out');
  assert.ok(actionsOf(policiesOf(feedsId)).includes('sqs:SendMessage'));
  assert.ok(!actionsOf(policiesOf(feedsId)).some((a: string) => a.startsWith('kms:')), 'the feed routes open no sealed secrets');
  const integrationOf = (key: string) => Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Route' && r.Properties.RouteKey === key)?.Properties.Target['Fn::Join'][1][1].Ref;
  const targetOf = (integration: string) => resources[integration].Properties.IntegrationUri['Fn::GetAtt'][0];
  for (const key of ['ANY /v1/workspaces/{ws}/sites/{site}/feeds', 'ANY /v1/workspaces/{ws}/sites/{site}/feeds/{proxy+}']) assert.equal(targetOf(integrationOf(key)), feedsId, key);
  assert.equal(targetOf(integrationOf('ANY /v1/workspaces/{ws}/sites/{proxy+}')), functionNamed('api-sites')[0], 'the rest of a site stays on api-sites');
  const [tickId, tick] = functionNamed('cron-tick');
  assert.ok(tick.Properties.Environment.Variables.WEBTRIGGER_QUEUE_URL_FEEDS, 'the tick queues feed polls');
  assert.ok(actionsOf(policiesOf(tickId)).includes('sqs:SendMessage'));
});

test("every queue's visibility timeout is at least 6x its consumer's timeout", () => {
  const mappings = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
  assert.ok(mappings.length > 0);
  for (const m of mappings) {
    const queue = resources[m.Properties.EventSourceArn['Fn::GetAtt'][0]];
    const consumer = resources[m.Properties.FunctionName.Ref];
    assert.ok(queue.Properties.VisibilityTimeout >= 6 * consumer.Properties.Timeout, `${m.Properties.FunctionName.Ref}: ${queue.Properties.VisibilityTimeout} < 6 x ${consumer.Properties.Timeout}`);
  }
});

test('reserved concurrency only with --context reservedConcurrency=true', () => {
  const reservedAnywhere = (t: Template) => Object.values(t.toJSON().Resources as Record<string, any>).some((r) => r.Properties?.ReservedConcurrentExecutions !== undefined);
  assert.equal(reservedAnywhere(template), false, 'a new account (limit 10) must be able to deploy');
  const reserved = reservedTemplate.toJSON().Resources as Record<string, any>;
  const of = (prefix: string) => Object.entries(reserved).find(([k, r]) => r.Type === 'AWS::Lambda::Function' && k.startsWith(prefix))![1].Properties.ReservedConcurrentExecutions;
  assert.equal(of('WorkerPushSend'), 20);
  assert.equal(of('WorkerEventsOut'), 10);
});

test('least privilege: the public subscriber function cannot Scan or BatchWrite, and only in its key spaces', () => {
  const [id] = functionNamed('api-subscribers');
  const statements = policiesOf(id).filter((st) => [st.Action].flat().some((a: string) => a.startsWith('dynamodb:')));
  const actions = actionsOf(statements);
  for (const forbidden of ['dynamodb:Scan', 'dynamodb:BatchWriteItem', 'dynamodb:BatchGetItem', 'dynamodb:*']) assert.ok(!actions.includes(forbidden), forbidden);
  assert.deepEqual([...actions].sort(), ['dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);
  for (const st of statements) assert.deepEqual(st.Condition, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['SITE#*', 'WS#*', 'RL#public#*'] } });
});

test('the Twilio receiver knows the public URL Twilio signed: the CloudFront domain', () => {
  const [, hook] = functionNamed('hook-twilio');
  const distribution = Object.keys(resources).find((k) => resources[k].Type === 'AWS::CloudFront::Distribution');
  assert.ok(distribution);
  assert.deepEqual(hook.Properties.Environment.Variables.WEBTRIGGER_PUBLIC_URL, { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distribution, 'DomainName'] }]] });
});

test('bot flows: api-flows serves the flow routes and the bot switch; the inbound processor can send', () => {
  const [flowsId, flows] = functionNamed('api-flows');
  assert.ok(flows.Properties.Environment.Variables.WEBTRIGGER_QUEUE_URL_WHATSAPP_SEND);
  assert.ok(!actionsOf(policiesOf(flowsId)).some((a: string) => a.startsWith('kms:')), 'api-flows opens no sealed secrets');
  const [processorId, processor] = functionNamed('worker-webhook-process');
  assert.ok(processor.Properties.Environment.Variables.WEBTRIGGER_QUEUE_URL_WHATSAPP_SEND, 'the processor sends bot messages');
  assert.ok(actionsOf(policiesOf(processorId)).includes('sqs:SendMessage'));
  const routes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route').map((r) => r.Properties.RouteKey);
  for (const key of ['ANY /v1/workspaces/{ws}/flows', 'ANY /v1/workspaces/{ws}/flows/{proxy+}', 'ANY /v1/workspaces/{ws}/flow-check', 'ANY /v1/workspaces/{ws}/conversations/{conv}/bot']) assert.ok(routes.includes(key), `no route ${key}`);
});

test('live updates: a WebSocket API whose routes reach live-websocket; publishers get the management endpoint and ManageConnections on its stage', () => {
  const apis = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::Api' && r.Properties.ProtocolType === 'WEBSOCKET');
  assert.equal(apis.length, 1, 'one WebSocket API');
  const [wsApiId, wsApi] = apis[0];
  assert.equal(wsApi.Properties.RouteSelectionExpression, '$request.body.action');
  const [liveId] = functionNamed('live-websocket');
  const wsRoutes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route' && r.Properties.ApiId?.Ref === wsApiId);
  assert.deepEqual(wsRoutes.map((r) => r.Properties.RouteKey).sort(), ['$connect', '$default', '$disconnect']);
  // Every route's integration invokes live-websocket, and API Gateway may invoke it.
  const integrations = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Integration' && r.Properties.ApiId?.Ref === wsApiId);
  assert.equal(integrations.length, 3);
  for (const i of integrations) assert.ok(JSON.stringify(i.Properties.IntegrationUri).includes(liveId), `integration not to live-websocket: ${JSON.stringify(i.Properties.IntegrationUri)}`);
  assert.ok(Object.values(resources).some((r) => r.Type === 'AWS::Lambda::Permission' && r.Properties.FunctionName?.['Fn::GetAtt']?.[0] === liveId && r.Properties.Principal === 'apigateway.amazonaws.com'));
  const stage = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Stage' && r.Properties.ApiId?.Ref === wsApiId);
  assert.ok(stage && stage.Properties.StageName === 'live' && stage.Properties.AutoDeploy === true);
  // The handler keeps connections in the table and posts nothing itself.
  const liveActions = actionsOf(policiesOf(liveId));
  assert.ok(liveActions.includes('dynamodb:PutItem') && liveActions.includes('dynamodb:DeleteItem'), liveActions.join(', '));
  assert.ok(!liveActions.some((a: string) => a.startsWith('kms:') || a.startsWith('execute-api:')), 'live-websocket opens no secrets and posts to no connection');
  // Publishers: the callback URL of this stage and ManageConnections scoped to it.
  for (const crate of ['worker-webhook-process', 'api-inbox', 'api-flows', 'cron-tick', 'worker-push-send']) {
    const [id, f] = functionNamed(crate);
    const endpoint = JSON.stringify(f.Properties.Environment.Variables.WEBTRIGGER_LIVE_WS_ENDPOINT);
    assert.ok(endpoint && endpoint.includes(wsApiId) && endpoint.includes('/live'), `${crate}: ${endpoint}`);
    const manage = policiesOf(id).filter((s) => [s.Action].flat().includes('execute-api:ManageConnections'));
    assert.equal(manage.length, 1, `${crate} may post to connections`);
    assert.ok(JSON.stringify(manage[0].Resource).includes(wsApiId), `${crate}: ManageConnections only on the live API`);
  }
  const [, health] = functionNamed('api-health');
  assert.equal(health.Properties.Environment.Variables.WEBTRIGGER_LIVE_WS_ENDPOINT, undefined, 'only publishers know the endpoint');
  // …while health tells the dashboard the stage's public wss:// URL to connect to.
  const publicUrl = JSON.stringify(health.Properties.Environment.Variables.WEBTRIGGER_LIVE_WS_URL);
  assert.ok(publicUrl && publicUrl.includes('wss://') && publicUrl.includes(wsApiId) && publicUrl.includes('/live'), `api-health: ${publicUrl}`);
  // The ticket and catch-up routes are served by api-inbox on the HTTP API.
  const httpRoutes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route').map((r) => r.Properties.RouteKey);
  for (const key of ['ANY /v1/workspaces/{ws}/events', 'ANY /v1/workspaces/{ws}/events/{proxy+}']) assert.ok(httpRoutes.includes(key), `no route ${key}`);
  template.hasOutput('LiveWebSocketUrl', {});
});

test('inbox attachments: api-inbox serves uploads and the media links; the sender builds links on the public URL without platform secrets', () => {
  const routes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route').map((r) => r.Properties.RouteKey);
  for (const key of ['ANY /v1/workspaces/{ws}/attachments', 'ANY /v1/workspaces/{ws}/attachments/{proxy+}', 'GET /hooks/media/{proxy+}']) assert.ok(routes.includes(key), `no route ${key}`);
  const [inboxId] = functionNamed('api-inbox');
  const inboxActions = actionsOf(policiesOf(inboxId));
  for (const a of ['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:GetItem']) assert.ok(inboxActions.includes(a), `api-inbox lacks ${a}`);
  const [senderId, sender] = functionNamed('worker-whatsapp-send');
  const distribution = Object.keys(resources).find((k) => resources[k].Type === 'AWS::CloudFront::Distribution');
  assert.deepEqual(sender.Properties.Environment.Variables.WEBTRIGGER_PUBLIC_URL, { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distribution, 'DomainName'] }]] });
  const senderActions = actionsOf(policiesOf(senderId));
  assert.ok(senderActions.includes('dynamodb:Query') && senderActions.includes('dynamodb:PutItem'), 'the sender reads parts and writes link records');
  assert.ok(!senderActions.some((a: string) => a.startsWith('secretsmanager:')), 'the sender needs no platform secrets');
});
