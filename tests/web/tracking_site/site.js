/* Shared by both SDKs' pages: the visitor's consent choice (a banner's answer,
   kept in localStorage as consent tools do) and the sign-up form. */
(function () {
  'use strict';
  var KEY = 'site-consent';
  window.siteConsent = {
    /* 'granted', 'denied', or null when not asked yet (the site tracks) */
    get: function () { return window.localStorage.getItem(KEY); },
    set: function (value) { window.localStorage.setItem(KEY, value); },
  };
  /* The sign-up form identifies the visitor with what they typed, then thanks them. */
  window.signupForm = function (identify) {
    var form = document.getElementById('signup');
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var data = new FormData(form);
      var traits = {
        email: data.get('email'),
        firstName: data.get('firstName'),
        lastName: data.get('lastName'),
        company: data.get('company'),
      };
      Promise.resolve(identify(traits)).then(function () {
        document.getElementById('thanks').hidden = false;
      });
    });
  };
})();
