import type { RuleName } from '../defaults.js';
import type { RuleSpec } from '../rule.js';
import { adafactor } from './adafactor.js';
import { adam, adamw } from './adam.js';
import { adagrad } from './adagrad.js';
import { adamMini } from './adamMini.js';
import { pbsgd } from './pbsgd.js';
import { rmsprop } from './rmsprop.js';
import { sgd } from './sgd.js';
import { signsgd } from './signsgd.js';
import { adagradFull } from './adagradFull.js';
import { galore } from './galore.js';
import { muon } from './muon.js';
import { shampoo, shampoo2 } from './shampoo.js';
import { soap } from './soap.js';
import { nadam } from './nadam.js';
import { radam } from './radam.js';
import { adamax } from './adamax.js';
import { adadelta } from './adadelta.js';
import { rprop } from './rprop.js';
import { sphereSgd } from './sphereSgd.js';
import { lion } from './lion.js';
import { ademamix } from './ademamix.js';
import { prodigy } from './prodigy.js';
import { lamb } from './lamb.js';
import { scheduleFreeAdamw, scheduleFreeSgd } from './scheduleFree.js';
import { normuon } from './normuon.js';

export const RULE_SPECS: { [R in RuleName]: RuleSpec<R> } = {
  sgd,
  signsgd,
  pbsgd,
  adagrad,
  rmsprop,
  adam,
  adamw,
  adafactor,
  'adam-mini': adamMini,
  'sphere-sgd': sphereSgd,
  muon,
  shampoo,
  shampoo2,
  'adagrad-full': adagradFull,
  'galore-adamw': galore,
  soap,
  nadam,
  radam,
  adamax,
  adadelta,
  rprop,
  lion,
  ademamix,
  prodigy,
  lamb,
  'schedule-free-adamw': scheduleFreeAdamw,
  'schedule-free-sgd': scheduleFreeSgd,
  normuon,
};
