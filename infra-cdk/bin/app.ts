// The CDK app: one env-agnostic stack, so `cdk synth` needs no AWS credentials.
import { App } from 'aws-cdk-lib';
import { WebTriggerStack } from '../lib/webtrigger-stack.ts';

const app = new App();
new WebTriggerStack(app, 'WebTrigger', {
  description: 'WebTrigger: webhooks in, Web Push and WhatsApp out',
});
