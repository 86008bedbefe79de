// Registers cdktf's Jest matchers (toHaveResourceWithProperties, toMatchSnapshot of synth output...).
import { setupJest } from 'cdktf/lib/testing/adapters/jest';

process.env.CHECKPOINT_DISABLE = '1';
setupJest();
