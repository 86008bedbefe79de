// Prints an OAuth access token of Application Default Credentials, for push-image.sh to log Docker
// in with. The token is fetched here, at apply time, rather than handed over by Terraform: a value
// from the plan (google_client_config.access_token) is sensitive, and Terraform then hides all of
// the provisioner's output, docker build errors included (hashicorp/terraform#27154).
const { GoogleAuth } = require('google-auth-library');

new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] }).getAccessToken().then(
  (token) => process.stdout.write(token ?? ''),
  (err) => {
    process.stderr.write(`push-image: no Application Default Credentials (${err.message})\n`);
    process.exit(1);
  },
);
