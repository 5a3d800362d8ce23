import { describe } from 'node:test';
import { skippedWithoutPostgres } from '../postgres/test-database';
import { openPostgresReadModels, openSqliteReadModels } from '../store-contract/store-openers';
import { readModelGenerationsContract } from './read-model-generations.contract';

readModelGenerationsContract('sqlite', openSqliteReadModels);

describe('PostgreSQL read model generations', async () => {
  if (await skippedWithoutPostgres()) return;
  readModelGenerationsContract('postgres', openPostgresReadModels);
});
