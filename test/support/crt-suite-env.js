'use strict';
// jest setupFile of the "aws-crt" project: the agents this worker starts use the aws-crt transport.
process.env.TEST_AGENT_TRANSPORT = 'aws-crt';
