/* RudderStack's @rudderstack/analytics-js v3 (its bundled UMD build, global
   rudderanalytics, every plugin inside), pointed at leadgate: the snippet of
   docs/website-tracking.md, plus the site's consent. */
(function () {
  'use strict';
  var config = window.LEADGATE; // {dataPlaneUrl: 'https://leadgate.example.com', writeKey}
  var analytics = new window.rudderanalytics.RudderAnalytics();
  var denied = window.siteConsent.get() === 'denied';
  analytics.load(config.writeKey, config.dataPlaneUrl, {
    // the source configuration, locally: no fetch of api.rudderstack.com/sourceConfig
    getSourceConfig: function () {
      return {
        source: {
          id: 'leadgate-site',
          name: 'website',
          workspaceId: 'leadgate',
          enabled: true,
          config: { statsCollection: { errors: { enabled: false }, metrics: { enabled: false } } },
          destinations: [],
        },
      };
    },
    plugins: ['XhrQueue', 'StorageEncryption', 'StorageMigrator'].concat(
      denied ? ['CustomConsentManager'] : []
    ),
    loadIntegration: false, // no device-mode destination SDKs from the CDN
    polyfillIfRequired: false, // no polyfill script from a CDN
    consentManagement: denied
      ? { enabled: true, provider: 'custom', allowedConsentIds: [], deniedConsentIds: ['Analytics', 'Advertising'] }
      : undefined,
  });
  window.site = {
    page: function (name) {
      return new Promise(function (done) { analytics.page(name, {}, done); });
    },
    track: function (event, properties) {
      return new Promise(function (done) { analytics.track(event, properties, done); });
    },
    identify: function (traits) {
      return new Promise(function (done) { analytics.identify(traits, done); });
    },
  };
})();
