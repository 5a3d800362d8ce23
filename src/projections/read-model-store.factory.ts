import { join } from 'node:path';
import { Config } from '../config/config';
import { ReadModelStore } from './read-model-store.port';
import { SqliteReadModelStore } from './sqlite/sqlite-read-model-store.adapter';

export async function createReadModelStore(config: Config): Promise<ReadModelStore> {
  return new SqliteReadModelStore(join(config.dataDir, 'read-models.sqlite'));
}
