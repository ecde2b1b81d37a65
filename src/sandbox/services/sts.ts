/** AWS Security Token Service (Query protocol): who am I. */
import type { ServiceModule } from '../types.js';

export const stsService: ServiceModule = {
  name: 'sts',
  protocol: 'query',
  xmlNamespace: 'https://sts.amazonaws.com/doc/2011-06-15/',
  apiVersion: '2011-06-15',
  initState: () => ({}),
  operations: {
    GetCallerIdentity: {
      mutating: false,
      handler: (_req, world) => ({
        Arn: `arn:aws:iam::${world.settings.accountId}:user/sandbox`,
        UserId: 'AIDASANDBOXUSER00001',
        Account: world.settings.accountId,
      }),
    },
  },
};
